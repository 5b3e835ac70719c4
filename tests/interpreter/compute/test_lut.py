"""Lookup-table helpers: tables against their definitions and LiteRT's own table."""

import math

import numpy as np

from edgelite.interpreter.compute import lut


def test_lut_8bit_indexes_by_bit_pattern():
    table = lut.populate_lut_8bit(lambda x: x, 1.0, 0, 1.0, 0, np.int8)
    out = np.empty(4, np.int8)
    lut.apply_lut_8bit(table, np.array([-128, -1, 0, 127], np.int8), out)
    assert out.tolist() == [-128, -1, 0, 127]


def test_lut_8bit_clamps_and_rounds_half_away():
    table = lut.populate_lut_8bit(lambda x: x, 0.5, 0, 1.0, 0, np.uint8)  # q/2 rounded
    assert table[1] == 1 and table[3] == 2 and table[255] == 128


def test_sigmoid_table_matches_its_definition_closely():
    t = lut.SIGMOID_TABLE_UINT16
    ideal = np.array([min(65535, round(65536 / (1 + math.exp(-i / 24)))) for i in range(256)])
    assert t.shape == (256,) and t[0] == 32768 and t[-1] == 65535
    assert np.abs(t - ideal).max() <= 1 and np.all(np.diff(t) >= 0)


def test_int16_lut_lookup_interpolates():
    table = lut.populate_lut_int16(lambda v: v, 1.0 / 32768, 0, 1.0 / 32768, 0)  # identity
    v = np.array([-32768, -1000, 0, 12345, 32767])
    assert np.abs(lut.lut_lookup_int16(v, table) - v).max() <= 1
