"""Inline solve slots: bounded per process and per caller (PLANNER_SOLVE_CONCURRENCY, PLANNER_SOLVES_PER_TOKEN)."""

from __future__ import annotations

import pytest

from planner.worker.runner import CallerBusy, InProcessRunner, SolverBusy
from planner.worker.settings import SolveSettings, solve_settings_from_env


async def test_one_caller_is_capped_while_other_callers_still_get_slots():
    # 3 slots in the process, 1 per caller: token-a's second solve is refused although 2 slots are free;
    # token-b and token-c take the other two; then the process is full for everyone (plain SolverBusy).
    runner = InProcessRunner(None, SolveSettings(concurrency=3, per_caller=1), {})  # type: ignore[arg-type]
    async with runner.inline_slot("token-a"):
        with pytest.raises(CallerBusy):
            async with runner.inline_slot("token-a"):
                pass
        async with runner.inline_slot("token-b"), runner.inline_slot("token-c"):
            with pytest.raises(SolverBusy) as full:
                async with runner.inline_slot("token-d"):
                    pass
            assert not isinstance(full.value, CallerBusy)
    # every slot and every caller's count is released again
    assert runner.limiter.borrowed_tokens == 0
    async with runner.inline_slot("token-a"), runner.inline_slot("token-d"):
        assert runner.limiter.borrowed_tokens == 2


async def test_a_refused_caller_does_not_leak_a_slot():
    runner = InProcessRunner(None, SolveSettings(concurrency=2, per_caller=1), {})  # type: ignore[arg-type]
    async with runner.inline_slot("token-a"):
        for _ in range(3):
            with pytest.raises(CallerBusy):
                async with runner.inline_slot("token-a"):
                    pass
        assert runner.limiter.borrowed_tokens == 1


def test_per_token_limit_is_read_from_the_environment():
    assert solve_settings_from_env({}).per_caller == 2
    assert solve_settings_from_env({"PLANNER_SOLVES_PER_TOKEN": "3"}).per_caller == 3
