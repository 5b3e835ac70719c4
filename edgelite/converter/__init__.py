"""edgelite.converter"""
