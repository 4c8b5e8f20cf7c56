"""The domain types every source shares: a status map and a malformed record."""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from hub_core.types import _ID_NAMESPACE, MalformedRecord, Source, Status, StatusMap, transaction_id

WORDS = StatusMap(
    {"success": Status.SUCCESS, "in_process": Status.PENDING, "cb refunded": Status.REFUNDED}
)


def test_words_match_whatever_their_case_spacing_and_underscores() -> None:
    assert WORDS.status("SUCCESS") is Status.SUCCESS
    assert WORDS.status(" In  Process ") is Status.PENDING and WORDS.is_known("IN_PROCESS")
    assert WORDS.status("Cb_Refunded") is Status.REFUNDED
    assert WORDS.status("chargeback") is Status.PENDING and not WORDS.is_known("chargeback")


@given(
    st.one_of(
        st.text(),
        st.integers(),
        st.none(),
        st.lists(st.text()),
        st.dictionaries(st.text(), st.text()),
    )
)
def test_any_raw_value_maps_to_a_status_and_never_raises(raw: Any) -> None:
    assert isinstance(WORDS.status(raw), Status)
    assert WORDS.is_known(raw) == (
        " ".join(str(raw).replace("_", " ").split()).lower() in WORDS.words
    )


def test_a_malformed_record_names_the_record_and_the_field() -> None:
    error = MalformedRecord("operation", "42", "amount.value", "missing")
    assert str(error) == "operation 42: amount.value: missing"
    assert (error.record_id, error.field, error.reason) == ("42", "amount.value", "missing")
    assert str(MalformedRecord("row", None, "txnId", "missing")) == "row <no id>: txnId: missing"


@given(st.sampled_from(list(Source)), st.text(min_size=1))
def test_transaction_id_is_the_uuid5_of_source_and_id(source: Source, source_id: str) -> None:
    expected = uuid.uuid5(_ID_NAMESPACE, f"{source}:{source_id}")
    assert transaction_id(source, source_id) == str(expected)
