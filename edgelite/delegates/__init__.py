"""edgelite.delegates"""
