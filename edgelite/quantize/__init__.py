"""edgelite.quantize"""
