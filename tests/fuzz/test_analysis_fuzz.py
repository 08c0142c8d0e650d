"""Analysis fuzzing: any rule inserted into a Runtime is accepted or rejected with a coded error,
and a rejected insert changes nothing.

Runtimes (policies of every kind, random complete schemas and rows) and statements come from
``fuzz_support``; ``check_insert_contract`` states the contract. Bounded example counts;
FUZZ_EXAMPLES raises them for a long local run.
"""

from __future__ import annotations

import os

from fuzz_support import check_insert_contract, mutated_programs, runtimes, statements
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from congress.datalog.ast import Rule
from congress.datalog.runtime import Runtime


def examples(n: int) -> settings:
    count = int(os.environ.get("FUZZ_EXAMPLES", n))
    return settings(max_examples=count, deadline=None, suppress_health_check=[HealthCheck.too_slow])


BATCHES = st.lists(st.lists(statements(), min_size=1, max_size=3), min_size=1, max_size=5)


@examples(250)
@given(runtimes(), BATCHES, st.data())
def test_inserted_rules_are_accepted_or_rejected_with_a_code_and_no_change(
    rt: Runtime, batches: list[list[Rule]], data: st.DataObject
) -> None:
    for batch in batches:
        policy = data.draw(st.sampled_from(rt.policy_names()), label="policy")
        check_insert_contract(rt, policy, batch)


@examples(200)
@given(runtimes(), st.lists(mutated_programs(), min_size=1, max_size=3), st.data())
def test_inserted_texts_are_accepted_or_rejected_with_a_code_and_no_change(
    rt: Runtime, texts: list[str], data: st.DataObject
) -> None:
    for text in texts:
        policy = data.draw(st.sampled_from(rt.policy_names()), label="policy")
        check_insert_contract(rt, policy, text)
