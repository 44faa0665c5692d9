"""The repeat engine: SPEC §2's rules (`repeats`) and what makes them fast on tens of millions of
rows without changing them: one grouping sort (`grouping`), labels back in input order
(`input_order`), chunks by customer (`chunks`) and the call/page-view sweeps (`sweep`).
"""
