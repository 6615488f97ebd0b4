"""Selection under a fair's capacity and group quotas: who is invited, waitlisted or below the cut;
promotion from the waitlist; whether an acceptance still gets its booths."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .ranking import Pick, Ranking
from .terms import FairTerms


@dataclass
class Load:
    """Booths a fair has given (accepted) and promised (issued, not yet answered), in total and by group."""

    accepted: int = 0
    issued: int = 0
    accepted_by_group: Counter = field(default_factory=Counter)
    issued_by_group: Counter = field(default_factory=Counter)

    def add_issued(self, group: int, booths: int) -> None:
        self.issued += booths
        self.issued_by_group[group] += booths


def hold_reason(fair: FairTerms, load: Load, group: int, booths: int) -> str | None:
    """Why one more invitation of ``booths`` in ``group`` cannot go out now (None: it can)."""
    if load.accepted >= fair.capacity:
        return "every booth of the fair is taken"
    if load.accepted + load.issued + booths > fair.issue_limit:
        return f"the fair's {fair.capacity} booths are all offered"
    limit = fair.group_limit(group, fair.issue_limit)
    if limit is not None and load.accepted_by_group[group] + load.issued_by_group[group] + booths > limit:
        return f"group {group} has reached its quota of {fair.rules.quota(group):.0%} of the booths"
    return None


class Decision:
    """One place of a ranking after selection: issue, waitlist or below_cut, and why it was held."""

    __slots__ = ("outcome", "hold", "_pick", "_picks", "_place")

    def __init__(
        self, pick: Pick | None, outcome: str, hold: str | None = None, picks: Sequence | None = None, place: int = 0
    ):
        self.outcome, self.hold, self._pick, self._picks, self._place = outcome, hold, pick, picks, place

    @property
    def pick(self) -> Pick:
        if self._pick is None:
            self._pick = self._picks[self._place]  # built when read (see Ranking)
        return self._pick

    def __repr__(self) -> str:
        return f"Decision({self.outcome!r}, place={self._place if self._pick is None else self._pick.rank})"


class Decisions(Sequence):
    """``select``'s answer, a sequence of ``Decision`` in ranking order (equal to the list of them).
    Only the places up to the cut are stored; every place after it is below the cut, beyond the
    waitlist. Iterating builds no pick until one is read; a slice builds the picks it holds."""

    def __init__(self, picks: Sequence, outcomes: list[str], holds: list[str | None], beyond: str):
        self.picks, self._outcomes, self._holds, self._beyond = picks, outcomes, holds, beyond

    @property
    def walked(self) -> list[str]:
        """The outcomes of the places up to the cut (every later one is below it)."""
        return self._outcomes

    def __len__(self) -> int:
        return len(self.picks)

    def _decision(self, i: int, pick: Pick | None = None) -> Decision:
        if i < len(self._outcomes):
            return Decision(pick, self._outcomes[i], self._holds[i], self.picks, i)
        return Decision(pick, "below_cut", self._beyond, self.picks, i)

    def __getitem__(self, index):
        if isinstance(index, slice):
            places = range(*index.indices(len(self)))
            picks = self.picks[index]
            return [self._decision(i, p) for i, p in zip(places, picks, strict=True)]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("decision index out of range")
        return self._decision(index)

    def __iter__(self):
        return (self._decision(i) for i in range(len(self)))

    def __eq__(self, other):
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(self) == len(other) and [(d.pick, d.outcome, d.hold) for d in self] == [
                (d.pick, d.outcome, d.hold) for d in other
            ]
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def count_of(self, outcome: str) -> int:
        below = len(self) - len(self._outcomes)
        return self._outcomes.count(outcome) + (below if outcome == "below_cut" else 0)


def select(picks: Sequence[Pick], fair: FairTerms, load: Load | None = None) -> Decisions:
    """Walk the ranking: invite while booths and quotas allow, waitlist the next ``waitlist_size``
    (those held back by a quota keep their rank there), and leave the rest below the cut.

    The walk stops at the cut (no booth left to offer, no waitlist place): everyone after it is
    below the cut. On a ``Ranking`` it reads only each place's group and booths."""
    load = load or Load()
    if isinstance(picks, Ranking):
        places = ((e[2], e[3]) for e in picks.entries())
    else:
        places = ((p.group, p.booths) for p in picks)
    size, limit = fair.waitlist_size, fair.issue_limit
    outcomes: list[str] = []
    holds: list[str | None] = []
    waiting = 0
    for group, n in places:
        if waiting >= size and load.accepted + load.issued >= limit:
            break  # no booth left to offer, no waitlist place
        hold = hold_reason(fair, load, group, n)
        if hold is None:
            load.add_issued(group, n)
            outcomes.append("issue")
        elif waiting < size:
            waiting += 1
            outcomes.append("waitlist")
        else:
            outcomes.append("below_cut")
        holds.append(hold)
    return Decisions(picks, outcomes, holds, f"beyond the waitlist of {size}")


@dataclass(frozen=True)
class Waiting:
    """A waitlisted invitation, as promotion sees it."""

    invitation_id: str
    rank: int
    group: int
    booths: int


def next_to_promote(waitlist: Iterable[Waiting], fair: FairTerms, load: Load) -> Waiting | None:
    """The best-ranked waitlisted invitation that fits the booths and quotas left."""
    for w in sorted(waitlist, key=lambda w: w.rank):
        if hold_reason(fair, load, w.group, w.booths) is None:
            return w
    return None


def acceptance_refusal(fair: FairTerms, load: Load, group: int, booths: int) -> str | None:
    """Why an acceptance cannot get its booths (None: it can). ``load`` counts the invitation itself
    among the issued ones; only accepted booths count against capacity and quota here."""
    if load.accepted + booths > fair.capacity:
        return "every booth of the fair is taken"
    limit = fair.group_limit(group)
    if limit is not None and load.accepted_by_group[group] + booths > limit:
        return f"group {group} has reached its quota of {fair.rules.quota(group):.0%} of the booths"
    return None


def free_booths(capacity: int, used: Iterable[int], n: int) -> list[int]:
    """The ``n`` lowest booth numbers not in use (booths are numbered 1..capacity)."""
    taken = set(used)
    out = [b for b in range(1, capacity + 1) if b not in taken][:n]
    if len(out) < n:
        raise ValueError("not enough free booths")
    return out
