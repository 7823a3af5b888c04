"""The only module that talks to durable_rules' C engine.

We use the engine's C API (`durable_rules_engine`) directly instead of `durable.engine.Host`:
it lets us delete a ruleset and get its memory back (the Host never does), and it avoids the
Host's per-call closures. One engine per process; every call is serialized by one lock (the
engine is not thread-safe, issue jruizgit/rules#291). No state outlives a call: each ruleset
has one scratch session, and every call leaves it empty (events are consumed by completing
their action, facts are retracted), so nothing accumulates however many decisions run.
"""

from __future__ import annotations

import itertools
import json
import threading
import weakref
from typing import Any

import durable_rules_engine as _engine

_lock = threading.RLock()
_names = itertools.count()
_orphans: list[int] = []  # handles whose owner was garbage-collected, deleted at the next call
_SID = "0"
_NOT_HANDLED = 1
_live = 0  # rulesets registered now, for tests and metrics
_WARM_RULE = "w"
_WARM_DEFINITION = {"all": [{"m": {"w": 1}}], "pri": 65000}
_WARM_MESSAGE = '{"sid":"0","id":0,"w":1}'


class EngineError(RuntimeError):
    pass


def live_rulesets() -> int:
    return _live


def _delete(handle: int) -> None:
    global _live
    try:  # the scratch session's memory is not freed by delete_ruleset
        _engine.delete_state(handle, _SID)
    except _engine.error:
        pass
    _engine.delete_ruleset(handle)
    _live -= 1


def _reap() -> None:
    while _orphans:
        _delete(_orphans.pop())


class EngineRuleset:
    """One registered durable_rules ruleset. `rules` maps rule names to definitions."""

    __slots__ = ("_handle", "_finalizer", "__weakref__")

    def __init__(self, rules: dict[str, dict[str, Any]]) -> None:
        global _live
        definition = json.dumps({**rules, _WARM_RULE: _WARM_DEFINITION}, separators=(",", ":"))
        with _lock:
            _reap()
            try:
                self._handle: int | None = _engine.create_ruleset(f"rb{next(_names)}", definition)
            except _engine.error as error:
                raise EngineError(f"the engine refused a ruleset: {error}") from None
            _live += 1
            self._warm_up()
        self._finalizer = weakref.finalize(self, _orphans.append, self._handle)

    def _warm_up(self) -> None:
        # The engine's first session node in a new ruleset has uninitialized pointers
        # (createStateNode leaves context.messages/stateFact unset), which delete_state then
        # frees: a crash when the first message matches nothing. One handled message whose
        # action is started and completed sets them, and later sessions reuse that slot.
        code, state = _engine.assert_fact(self._handle, _WARM_MESSAGE)
        if code != 0 or not _engine.start_action_for_state(self._handle, state):
            raise EngineError("the engine did not take its warm-up message")
        while _engine.complete_and_start_action(self._handle, state):
            pass
        _engine.delete_state(self._handle, _SID)

    def close(self) -> None:
        if self._handle is None:
            return
        self._finalizer.detach()
        with _lock:
            _delete(self._handle)
        self._handle = None

    def first(self, message: str) -> str | None:
        """The name of the one rule an event fires: the lowest `pri` among those that match.

        Completing the action consumes the event, so the scratch session is empty again and
        is reused by the next call (creating a session costs more than the match itself)."""
        with _lock:
            state = self._assert(_engine.assert_event, message)
            if state is None:
                return None
            try:
                started = _engine.start_action_for_state(self._handle, state)
                if not started:
                    return None
                _engine.complete_and_start_action(self._handle, state)
                return _rule_name(started[1])
            except BaseException:
                self._reset()
                raise

    def all(self, message: str) -> list[str]:
        """The names of every rule a fact fires; the fact is retracted afterwards."""
        with _lock:
            state = self._assert(_engine.assert_fact, message)
            if state is None:
                return []
            fired: list[str] = []
            try:
                started = _engine.start_action_for_state(self._handle, state)
                if started:
                    fired.append(_rule_name(started[1]))
                    while following := _engine.complete_and_start_action(self._handle, state):
                        fired.append(_rule_name(following))
                _engine.retract_fact(self._handle, message)
            except BaseException:
                self._reset()
                raise
            return fired

    def held_messages(self) -> int:
        """Facts and events the scratch session holds now: always 0 between calls."""
        with _lock:
            try:
                facts = json.loads(_engine.get_facts(self._handle, _SID))
                events = json.loads(_engine.get_events(self._handle, _SID))
            except _engine.error:  # no session at all (never used, or reset)
                return 0
            return len(facts) + len(events)

    def _reset(self) -> None:
        try:
            _engine.delete_state(self._handle, _SID)
        except _engine.error:
            pass

    def _assert(self, call: Any, message: str) -> int | None:
        if self._handle is None:
            raise EngineError("the ruleset was closed")
        _reap()
        try:
            code, state = call(self._handle, message)
        except _engine.error as error:
            self._reset()
            raise EngineError(f"the engine failed on a message: {error}") from None
        if code == _NOT_HANDLED:
            return None
        if code != 0:
            self._reset()
            raise EngineError(f"the engine answered {code} to a message")
        return int(state)


def _rule_name(message_json: str) -> str:
    # The action message is {"<rule name>": {...}}; the name is all we need.
    return message_json[2 : message_json.index('"', 2)]


# Messages are built as text by the compiler: this head, then `,"<property>":<integer>` pairs,
# then "}". Every property value is a small integer, so no JSON encoder is needed.
MESSAGE_HEAD = f'{{"sid":"{_SID}","id":1,"k":1'
