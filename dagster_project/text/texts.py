"""Text as the models read it: the same normalisation for training, prediction and grouping,
column-wise with Arrow (no Python loop over tickets)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

# Masks ingestion wrote in place of personal data ([手机号], [身份证号], …): a mask says
# nothing about the request, and its brackets would tie unrelated tickets together.
_MASK = r"\[[^\[\]]{1,8}\]"
_DIGITS = r"[0-9]+"
_SPACE = r"\s+"


def normalised(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """NFKC (full-width letters and digits become half-width), lower case, masks removed,
    every run of digits one `0`, every run of white space one space; null becomes ''."""
    text = pc.fill_null(pc.cast(values, pa.string()), "")
    text = pc.utf8_normalize(text, form="NFKC")
    text = pc.utf8_lower(text)
    text = pc.replace_substring_regex(text, _MASK, " ")
    text = pc.replace_substring_regex(text, _DIGITS, "0")
    text = pc.replace_substring_regex(text, _SPACE, " ")
    text = pc.utf8_trim_whitespace(text)
    if isinstance(text, pa.ChunkedArray):
        return text.combine_chunks()
    return text
