"""The turn decision (seed §3): weighted scores x a seeded naturalness factor in [0.9, 1.1].

Rules, in order:
1. The user named the next speaker: that persona, for this one turn.
2. The user's last message addressed someone by name or role: the best-scored of those.
3. A persona addressed another by name or role: the best-scored of those, unless they already
   hold twice their fair share of the recent window, or someone has been silent for twice the
   floor below (no two-person ping-pong).
4. A member silent for the last (members + 1) persona turns gets the floor, so nobody is starved
   by a topic that happens to suit the others.
5. A member who has not spoken yet (at the start, or just added) goes before those who have,
   best-scored first, as a good moderator opens the round.
6. Otherwise the best score; below confidence 0.5, or when the scorer fails, the least active
   member (ties: the one silent longest), as in seed §3.2.
The naturalness factor for a turn depends only on the conversation's seed, the turn number and
the persona, so a stored conversation replays exactly, however often it was paused.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection, Sequence

from thinktank.domain import Alternative, Message, Persona, TurnDecision, Usage
from thinktank.domain.conversation import ChosenBy
from thinktank.domain.suggest import closest
from thinktank.errors import UnknownIdError
from thinktank.models.ids import ModelId
from thinktank.orchestration.scoring import Factors, Scorer, ScoreSheet, SelectionContext

log = logging.getLogger(__name__)

MIN_CONFIDENCE = 0.5
NATURALNESS = (0.9, 1.1)
_HASH_RANGE = float(2**64)


class TurnOrchestrator:
    """Decides who speaks next: a requested speaker, someone addressed, or the best scored, with a
    fallback to the least active when scoring fails or is unsure."""

    def __init__(self, scorer: Scorer, *, seed: int) -> None:
        self.scorer = scorer
        self.seed = seed

    def naturalness(self, turn_index: int, persona_id: str) -> float:
        # A hash of (seed, turn, persona) read as a fraction in [0, 1): the same three always give the
        # same factor, and it costs a tenth of seeding a fresh random.Random for every candidate.
        key = f"{self.seed}:{turn_index}:{persona_id}".encode()
        fraction = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest()) / _HASH_RANGE
        low, high = NATURALNESS
        return low + (high - low) * fraction

    def planned_call(
        self, context: SelectionContext, *, requested: str | None = None
    ) -> tuple[ModelId, Usage] | None:
        """The scorer's model call that `decide` would make (None when the user chose, or no model
        is asked), so it can be reserved before the turn starts."""
        if requested is not None or not context.members:
            return None
        return self.scorer.planned_call(context, _candidates(context, ()))

    async def decide(
        self, context: SelectionContext, *, requested: str | None = None, passed_over: Collection[str] = ()
    ) -> TurnDecision:
        """`passed_over`: members whose last turn produced nothing (cut by the speaker guard, empty);
        someone else speaks first, unless nobody else is left."""
        if not context.members:
            raise ValueError("a conversation needs at least one member to take a turn")
        if requested is not None:
            return self._requested(context, requested)
        candidates = _candidates(context, passed_over)
        try:
            sheet = await self.scorer.score(context, candidates)
        except Exception as exc:
            log.warning("scorer %s failed (%s); choosing the least active member", self.scorer.name, exc)
            return self._least_active(context, candidates, why=f"the {self.scorer.name} scorer failed")
        turn, naturalness = context.turn_index, self.naturalness
        # Best first, ties by id: sorted on (-score, id) as plain tuples, then read back as (score, id).
        ranked = [
            (-negated, pid)
            for negated, pid in sorted(
                [(-min(f.weighted * naturalness(turn, pid), 1.0), pid) for pid, f in sheet.factors.items()]
            )
        ]
        by_id = {p.id: p for p in candidates}
        addressed = [(score, pid) for score, pid in ranked if sheet.factors[pid].addressed]
        asker = context.last.speaker_name if context.last else "someone"
        if addressed and context.last is not None and context.last.kind == "user":
            score, pid = addressed[0]
            return self._decision(
                pid,
                f"{by_id[pid].name} was asked directly by you",
                score,
                ranked,
                sheet,
                chosen_by="addressed",
            )
        floor = len(context.members) + 1
        persona_turns = context.persona_messages()
        if (
            addressed
            and not _dominates(context, addressed[0][1])
            and not _silent(ranked, persona_turns, 2 * floor)
        ):
            score, pid = addressed[0]
            reason = f"{by_id[pid].name} was asked directly by {asker}"
            return self._decision(pid, reason, score, ranked, sheet, chosen_by="addressed")
        if silent := _silent(ranked, persona_turns, floor):
            score, pid = silent[0]
            reason = f"{by_id[pid].name} has been silent for {floor} turns"
            return self._decision(pid, reason, score, ranked, sheet, chosen_by="fallback")
        heard = _heard_of(persona_turns, [pid for _, pid in ranked])
        unheard = [(score, pid) for score, pid in ranked if pid not in heard]
        if unheard:
            score, pid = unheard[0]
            reason = f"{by_id[pid].name} has not been heard yet; {_reason(by_id[pid], sheet.factors[pid])}"
            return self._decision(pid, reason, score, ranked, sheet)
        score, pid = ranked[0]
        if score < MIN_CONFIDENCE:
            return self._least_active(
                context,
                candidates,
                why=f"no clear next speaker (best score {score:.2f})",
                sheet=sheet,
                ranked=ranked,
            )
        return self._decision(
            pid, f"{by_id[pid].name}: {_reason(by_id[pid], sheet.factors[pid])}", score, ranked, sheet
        )

    def _decision(
        self,
        persona_id: str,
        reason: str,
        confidence: float,
        ranked: list[tuple[float, str]],
        sheet: ScoreSheet,
        *,
        chosen_by: ChosenBy = "orchestrator",
    ) -> TurnDecision:
        alternatives = tuple(Alternative(pid, score) for score, pid in ranked if pid != persona_id)[:2]
        if sheet.note:
            reason += f" ({sheet.note})"
        return TurnDecision(
            persona_id=persona_id,
            reason=reason,
            confidence=confidence,
            alternatives=alternatives,
            scorer=sheet.scorer,
            chosen_by=chosen_by,
            selection_usage=sheet.usage,
            selection_cost=sheet.cost,
            selection_model_id=sheet.model_id,
        )

    def _requested(self, context: SelectionContext, requested: str) -> TurnDecision:
        ids = [p.id for p in context.members]
        if requested not in ids:
            raise UnknownIdError("member", requested, suggestions=closest(requested, ids))
        return TurnDecision(
            persona_id=requested, reason="you chose who speaks next", confidence=1.0, chosen_by="user"
        )

    def _least_active(
        self,
        context: SelectionContext,
        candidates: Sequence[Persona],
        *,
        why: str,
        sheet: ScoreSheet | None = None,
        ranked: list[tuple[float, str]] | None = None,
    ) -> TurnDecision:
        counts = {p.id: 0 for p in candidates}
        last_spoke = {p.id: -1 for p in candidates}
        for message in context.messages:
            if message.speaker_id in counts:
                counts[message.speaker_id] += 1
                last_spoke[message.speaker_id] = message.index
        order = {p.id: i for i, p in enumerate(candidates)}
        chosen = min(counts, key=lambda pid: (counts[pid], last_spoke[pid], order[pid]))
        name = next(p.name for p in candidates if p.id == chosen)
        reason = f"{why}: giving the floor to the least active member, {name}"
        if sheet is None or ranked is None:
            return TurnDecision(persona_id=chosen, reason=reason, confidence=0.0, chosen_by="fallback")
        confidence = next(score for score, pid in ranked if pid == chosen)
        return self._decision(chosen, reason, confidence, ranked, sheet, chosen_by="fallback")


def _candidates(context: SelectionContext, passed_over: Collection[str]) -> list[Persona]:
    """Everyone but the persona who just spoke (nobody answers themselves) and those passed over,
    unless that leaves nobody."""
    last = context.last
    excluded = set(passed_over)
    if last is not None and last.kind == "persona":
        excluded.add(last.speaker_id)
    return (
        [p for p in context.members if p.id not in excluded]
        or [p for p in context.members if p.id not in passed_over]
        or list(context.members)
    )


def _silent(
    ranked: list[tuple[float, str]], persona_turns: Sequence[Message], turns: int
) -> list[tuple[float, str]]:
    """Candidates who said nothing in the last `turns` persona messages (once that many exist)."""
    if len(persona_turns) < turns:
        return []
    recent = {m.speaker_id for m in persona_turns[-turns:]}
    return [(score, pid) for score, pid in ranked if pid not in recent]


def _heard_of(persona_turns: Sequence[Message], candidates: Collection[str]) -> set[str]:
    """Which candidates have spoken: read from the newest message back, stopping once all are found
    (in a long conversation, a few turns back; only someone never heard makes it read to the start)."""
    wanted, heard = set(candidates), set()
    for message in reversed(persona_turns):
        if message.speaker_id in wanted:
            heard.add(message.speaker_id)
            if len(heard) == len(wanted):
                break
    return heard


def _dominates(context: SelectionContext, persona_id: str) -> bool:
    members = len(context.members)
    window = context.persona_messages()[-2 * members :]
    if len(window) < members:
        return False
    share = sum(1 for m in window if m.speaker_id == persona_id) / len(window)
    return share >= 2 / members


def _reason(persona: Persona, factors: Factors) -> str:
    parts = []
    if factors.relevance >= 0.8:
        parts.append("most relevant to what was just said")
    if factors.expertise >= 0.8:
        parts.append(f"expertise in {', '.join(persona.expertise[:2])}")
    if factors.participation >= 0.75:
        parts.append("has spoken little recently")
    if not parts:
        parts.append("best overall fit for the next turn")
    return "; ".join(parts)
