<?xml version="1.0" encoding="utf-8"?>
<!-- Shows an RSS or Atom file of feeds as a readable page in a browser. -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom">
  <xsl:output method="html" encoding="utf-8"/>
  <xsl:template match="/">
    <html>
      <head>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <title><xsl:value-of select="rss/channel/title|atom:feed/atom:title"/></title>
        <style>body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;line-height:1.5}</style>
      </head>
      <body>
        <p>This is a feed. Copy its address into your feed reader to subscribe.</p>
        <h1><xsl:value-of select="rss/channel/title|atom:feed/atom:title"/></h1>
        <p><xsl:value-of select="rss/channel/description|atom:feed/atom:subtitle"/></p>
        <xsl:for-each select="rss/channel/item">
          <h2><a href="{link}"><xsl:value-of select="title"/></a></h2>
          <p><xsl:value-of select="description"/></p>
        </xsl:for-each>
        <xsl:for-each select="atom:feed/atom:entry">
          <h2><a href="{atom:link[@rel='alternate']/@href}"><xsl:value-of select="atom:title"/></a></h2>
          <p><xsl:value-of select="atom:summary"/></p>
        </xsl:for-each>
      </body>
    </html>
  </xsl:template>
</xsl:stylesheet>
