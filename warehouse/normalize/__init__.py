"""Pure, vectorized normalizers for raw text columns (identifiers, phones, dates, amounts).

Each `normalize_*` takes a `pl.Series` and returns a frame of the same length and order with
a canonical value column (null when invalid) and an issue column (stable reason code or null);
each module's `REASONS` maps its codes to a sentence a clerk understands.
"""
