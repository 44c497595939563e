"""The demo's year of work, planned without touching the database.

Each item gets an outcome (closed, closed late, rectifying, overdue at a
given ladder level, reopened after a look-back, ...) and a timeline of dated
steps that leads there, measured in workdays on the statutory calendar and
anchored on today, so that an item planned "12 workdays overdue" is exactly
that when the demo is loaded. ``app.demo.load`` plays the steps through the
services in time order.
"""

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.deadlines.calendar import WorkdayCalendar
from app.demo import data as d
from app.demo.measures import plan_measures

PLAN = [  # (source, count, campaign key or None for the joint-supervision projects)
    ("inspection", 512, None),
    ("assessment", 94, "assessment"),
    ("hotline", 136, "hotline"),
    ("talk", 33, "talk_reports"),
    ("talk", 255, "talk_one_on_one"),
    ("petition", 80, "petition"),
    ("audit", 6, "audit"),
    ("analysis", 20, "analysis"),
    ("other", 37, "other"),
]
PERIODS = {  # rectification period in workdays
    "inspection": 42,
    "assessment": 30,
    "hotline": 13,
    "talk": 20,
    "petition": 20,
    "audit": 60,
    "analysis": 30,
    "other": 15,
}
OUTCOMES = {  # everything not listed here is closed on time
    "found": 14,
    "withdrawn_found": 10,
    "withdrawn_assigned": 8,
    "assigned": 18,
    "accept_overdue": 4,
    "rectifying": 55,
    "due_soon": 14,
    "review_pending": 28,
    "rejected": 10,
    "verified": 16,
    "overdue_1": 8,
    "overdue_2": 6,
    "overdue_3": 5,
    "extension_pending": 4,
    "extension_approved": 10,
    "reopened_open": 8,
    "reopened_closed": 8,
    "returned_reassigned": 10,
    "closed_late": 70,
}
HOTLINE_TYPES = {  # 工单类型 -> (share of orders, rectification period in workdays)
    "complaint": (50, 13),
    "report": (10, 13),
    "suggestion": (10, 13),
    "help": (20, 3),
    "consult": (10, 1),
}
CALLBACKS = {  # 回访 results of the first callback, in percent
    "satisfied": 74,
    "basically_satisfied": 14,
    "unreachable": 4,
    "dissatisfied": 8,
}
MERGED_HOTLINE_ORDERS = 5  # 重复件: repeated calls merged into an earlier order
HOTLINE_OUTCOMES = {  # at least this many orders: every state of the hotline workflow
    "found": MERGED_HOTLINE_ORDERS + 2,  # new orders, besides the repeats merged away
    "verified": 2,  # awaiting their callback
}
OVERDUE_DAYS = {"overdue_1": (2, 3), "overdue_2": (6, 8), "overdue_3": (12, 25)}
SEVERITIES = (["low"] * 10) + (["normal"] * 60) + (["high"] * 25) + (["critical"] * 5)
HISTORY_DAYS = 360


@dataclass
class Step:
    day: date
    action: str
    fields: dict = field(default_factory=dict)
    by: str | None = None
    at: datetime | None = None

    @property
    def timed(self) -> datetime:
        """``at``, once the schedule has set it."""
        assert self.at is not None
        return self.at


@dataclass
class ItemPlan:
    source: str
    title: str
    description: str
    category: str
    severity: str
    campaign: str
    unit: str
    outcome: str
    steps: list[Step]
    type: str | None = None


def joint_campaigns() -> list[str]:
    """The 100 supervision projects registered by the joint meeting's member units."""
    return [f"联合监督·{topic}（{scope}）" for scope in d.JOINT_SCOPES for topic in d.JOINT_TOPICS]


def _cover_hotline_states(specs: list[tuple], outcomes: list[str]) -> None:
    """Swap outcomes between hotline orders closed on time and other items, so the
    hotline has its ``HOTLINE_OUTCOMES`` too (the city's totals stay the same; a
    small city keeps one of each for the other workflow)."""
    hotline = [i for i, (source, _) in enumerate(specs) if source == "hotline"]
    for outcome, wanted in HOTLINE_OUTCOMES.items():
        missing = wanted - sum(1 for i in hotline if outcomes[i] == outcome)
        donors = [
            i
            for i, (source, _) in enumerate(specs)
            if source != "hotline" and outcomes[i] == outcome
        ]
        takers = [i for i in hotline if outcomes[i] == "closed"]
        swaps = min(missing, len(donors) - 1)  # the other workflow keeps one too
        for donor, taker in list(zip(donors, takers, strict=False))[: max(swaps, 0)]:
            outcomes[donor], outcomes[taker] = outcomes[taker], outcomes[donor]


class Planner:
    def __init__(
        self, seed: int, cal: WorkdayCalendar, tz: ZoneInfo, now: datetime, scale: float = 1.0
    ) -> None:
        self.rng = random.Random(seed)
        self.plans_rng = random.Random(seed + 1)  # measures: the items' own draws unchanged
        self.scale = scale
        self.cal, self.tz, self.now = cal, tz, now
        self.today = now.astimezone(tz).date()
        self.last = self.wd(self.today, -1)
        self.first = self.today - timedelta(days=HISTORY_DAYS)
        top = [c for c, _ in d.COUNTIES + d.DEPARTMENTS]
        self.all_units = top + [c for c, _, _ in d.SUBUNITS]
        self.top_units = top
        self.hotline = False
        """Whether the item being planned is a 12345 order (its review ends in a callback)."""

    def wd(self, day: date, n: int) -> date:
        return self.cal.add_workdays(day, n)

    def _workday_before(self, day: date) -> date:
        return day if self.cal.is_workday(day) else self.wd(day, -1)

    def _start(self, span: int) -> date:
        """A random workday in the past year leaving ``span`` workdays before yesterday."""
        latest = self.wd(self.last, -span)
        if latest <= self.first:
            return self._workday_before(self.first + timedelta(days=7))
        pick = self.first + timedelta(days=self.rng.randrange((latest - self.first).days + 1))
        return max(self._workday_before(pick), self.wd(self.first, 1))

    def items(self) -> list[ItemPlan]:
        specs = [
            (source, campaign)
            for source, count, campaign in PLAN
            for _ in range(self._scaled(count))
        ]
        outcomes = [o for o, n in OUTCOMES.items() for _ in range(self._scaled(n))]
        outcomes += ["closed"] * (len(specs) - len(outcomes))
        self.rng.shuffle(outcomes)
        _cover_hotline_states(specs, outcomes)
        joint = joint_campaigns()
        plans: list[ItemPlan] = []
        for index, ((source, campaign_key), outcome) in enumerate(
            zip(specs, outcomes, strict=True)
        ):
            flagship = (
                source == "audit" and campaign_key and not any(p.source == "audit" for p in plans)
            )
            if flagship:
                outcome = "overdue_3"
            plans.append(self._item(index, source, campaign_key, outcome, joint, bool(flagship)))
        self._merge_duplicates(plans)
        return plans

    def _merge_duplicates(self, plans: list[ItemPlan]) -> None:
        """Turn a few new hotline orders into repeated calls merged into an earlier order."""
        hotline = [i for i, p in enumerate(plans) if p.source == "hotline"]
        new = [i for i in hotline if plans[i].outcome == "found"]
        repeats = new[: min(MERGED_HOTLINE_ORDERS, len(new) - 1)]  # one at least stays new
        for index in repeats:
            created = plans[index].steps[0]
            earlier = [
                i for i in hotline if plans[i].steps[0].timed < created.timed and i not in repeats
            ]
            if not earlier:
                continue
            original = self.rng.choice(earlier)
            plans[index].outcome = "merged"
            plans[index].title = plans[original].title
            merge = Step(created.day, "merge", {"into_index": original})
            merge.at = created.timed + timedelta(minutes=self.rng.randint(5, 90))
            plans[index].steps.append(merge)

    def _scaled(self, count: int) -> int:
        return count if self.scale == 1 else max(1, round(count * self.scale))

    def _unit_for(self, source: str) -> str:
        pool = d.UNIT_POOLS.get(source)
        if pool and self.rng.random() < 0.85:
            return self.rng.choice(pool)
        if source == "talk":
            return self.rng.choice(self.top_units)
        return self.rng.choice(self.all_units)

    def _item(self, index, source, campaign_key, outcome, joint, flagship) -> ItemPlan:
        rng = self.rng
        title = d.TITLES[source][0] if flagship else rng.choice(d.TITLES[source])
        unit = "gaoxin" if flagship else self._unit_for(source)
        campaign = d.CAMPAIGNS[campaign_key] if campaign_key else rng.choice(joint)
        order_type = None
        if source == "hotline":
            types = list(HOTLINE_TYPES)
            weights = [share for share, _ in HOTLINE_TYPES.values()]
            order_type = rng.choices(types, weights)[0]
            if HOTLINE_TYPES[order_type][1] < 13 and outcome != "closed":
                order_type = "complaint"  # short periods only where the timeline fits them
            period = HOTLINE_TYPES[order_type][1]
        else:
            period = PERIODS[source] + rng.randint(-2, 5)
        self.hotline = source == "hotline"
        steps = self._timeline(outcome, unit, period)
        steps = plan_measures(
            self.plans_rng, steps, source, unit, self.all_units, self.today, self.wd, Step
        )
        self._stamp(steps)
        label = campaign if campaign_key else campaign.removeprefix("联合监督·")
        return ItemPlan(
            source=source,
            title=title,
            description=f"{label}发现：{title}。请责任单位制定整改方案，按期整改并报送整改报告和佐证材料。",
            category=rng.choice(d.CATEGORIES[source]),
            severity="high" if flagship else rng.choice(SEVERITIES),
            campaign=campaign,
            unit=unit,
            outcome=outcome,
            steps=steps,
            type=order_type,
        )

    def _stamp(self, steps: list[Step]) -> None:
        """Office-hours times, strictly increasing along the item's steps."""
        previous: datetime | None = None
        for step in steps:
            minute = self.rng.randint(8 * 60 + 30, 16 * 60)
            local = datetime.combine(step.day, time(minute // 60, minute % 60), tzinfo=self.tz)
            at = local.astimezone(UTC)
            if previous is not None and at <= previous:
                at = previous + timedelta(minutes=self.rng.randint(3, 40))
            step.at = previous = at

    def _say(self, kind: str) -> str:
        return self.rng.choice(d.COMMENTS[kind])

    def _timeline(self, outcome: str, unit: str, period: int) -> list[Step]:
        rng, wd = self.rng, self.wd
        if outcome == "found":
            return [Step(wd(self.today, -rng.randint(1, 4)), "create")]
        if outcome == "withdrawn_found":
            c = self._start(8)
            return [Step(c, "create"), Step(wd(c, rng.randint(1, 5)), "withdraw", self._w())]
        if outcome == "withdrawn_assigned":
            c = self._start(8)
            a = wd(c, rng.randint(0, 1))
            return [
                Step(c, "create"),
                self._assign(a, unit, wd(a, period)),
                Step(wd(a, rng.randint(1, 2)), "withdraw", self._w()),
            ]
        if outcome in ("assigned", "accept_overdue"):
            m = rng.randint(1, 2) if outcome == "assigned" else rng.randint(5, 9)
            a = wd(self.today, -m) if m else self.today
            return [Step(wd(a, -rng.randint(0, 2)), "create"), self._assign(a, unit, wd(a, period))]
        if outcome in OVERDUE_DAYS:
            low, high = OVERDUE_DAYS[outcome]
            return self._open(wd(self.today, -(period + rng.randint(low, high))), unit, period)
        if outcome == "rectifying":
            return self._open(wd(self.today, -rng.randint(2, period - 4)), unit, period)
        if outcome == "due_soon":
            return self._open(wd(self.today, -(period - rng.randint(1, 3))), unit, period)
        if outcome in ("review_pending", "rejected", "verified", "extension_pending"):
            return self._open_progress(outcome, unit, period)
        return self._closed(outcome, unit, period)

    def _w(self) -> dict:
        return {"comment": self._say("withdraw")}

    def _assign(self, day: date, unit: str, due: date) -> Step:
        return Step(day, "assign", {"unit_code": unit, "due_date": due})

    def _open(self, a: date, unit: str, period: int) -> list[Step]:
        return [
            Step(self.wd(a, -self.rng.randint(0, 2)), "create"),
            self._assign(a, unit, self.wd(a, period)),
            Step(min(self.wd(a, self.rng.randint(0, 2)), max(a, self.last)), "accept"),
        ]

    def _submit(self, day: date) -> list[Step]:
        return [Step(day, "evidence"), Step(day, "submit", {"comment": self._say("submit")})]

    def _open_progress(self, outcome: str, unit: str, period: int) -> list[Step]:
        rng, wd = self.rng, self.wd
        m = rng.randint(8, max(9, period - 2))
        a = wd(self.today, -m)
        steps = self._open(a, unit, period)
        if outcome == "extension_pending":
            day = wd(self.today, -1)
            new_due = wd(wd(a, period), 15)
            return steps + [Step(day, "extension", {"due_date": new_due})]
        s = wd(a, rng.randint(3, m - 4))
        steps += self._submit(s)
        if outcome == "rejected":
            steps.append(Step(wd(s, rng.randint(1, 2)), "reject", {"comment": self._say("reject")}))
        elif outcome == "verified":
            steps.append(Step(wd(s, rng.randint(1, 3)), "verify"))
        return steps

    def _closed(self, outcome: str, unit: str, period: int) -> list[Step]:
        rng, wd = self.rng, self.wd
        span = period + 30 + (90 if outcome.startswith("reopened") else 0)
        c = self._start(span)
        a = wd(c, rng.randint(0, 2))
        steps = [Step(c, "create")]
        if outcome == "returned_reassigned":
            wrong = rng.choice([u for u in self.top_units if u != unit])
            steps += [
                self._assign(a, wrong, wd(a, period)),
                Step(wd(a, 1), "return", {"comment": self._say("return")}, by=wrong),
            ]
            a = wd(a, 2)
        due = wd(a, period)
        steps += [self._assign(a, unit, due), Step(wd(a, rng.randint(0, 2)), "accept")]
        if outcome == "extension_approved":
            asked = wd(due, -3)
            due = wd(due, 15)
            steps += [
                Step(asked, "extension", {"due_date": due}),
                Step(wd(asked, 1), "decide", {"approve": True}),
            ]
            s = wd(due, -rng.randint(1, 5))
        elif outcome == "closed_late":
            s = wd(due, rng.randint(1, 8))
        else:
            s = wd(a, max(min(3, period), round(period * rng.uniform(0.3, 0.75))))
        steps += self._review(s)
        if outcome.startswith("reopened"):
            steps += self._look_back(steps[-1].day, outcome == "reopened_closed")
        return steps

    def _review(self, s: date) -> list[Step]:
        rng, wd = self.rng, self.wd
        steps = self._submit(s)
        if rng.random() < 0.12:
            r = wd(s, rng.randint(1, 2))
            s = wd(r, rng.randint(2, 4))
            steps += [Step(r, "reject", {"comment": self._say("reject")})] + self._submit(s)
        v = wd(s, rng.randint(1, 3))
        steps.append(Step(v, "verify"))
        if not self.hotline:
            return steps + [Step(wd(v, rng.randint(0, 1)), "close")]
        return steps + self._callback(v)

    def _callback(self, verified: date) -> list[Step]:
        """回访: mostly satisfied; a dissatisfied caller's order is redone and called again."""
        rng, wd = self.rng, self.wd
        result = rng.choices(list(CALLBACKS), list(CALLBACKS.values()))[0]
        day = wd(verified, rng.randint(0, 1))
        steps = [Step(day, "callback", {"satisfaction": result})]
        if result == "dissatisfied":
            s = wd(day, rng.randint(2, 5))
            v = wd(s, 1)
            again = rng.choice(["satisfied", "basically_satisfied"])
            steps += self._submit(s) + [
                Step(v, "verify"),
                Step(wd(v, rng.randint(0, 1)), "callback", {"satisfaction": again}),
            ]
        return steps

    def _look_back(self, closed: date, close_again: bool) -> list[Step]:
        rng, wd = self.rng, self.wd
        r = wd(closed, rng.randint(20, 40)) if close_again else wd(self.today, -rng.randint(5, 12))
        due = wd(r, 20)
        steps = [Step(r, "reopen", {"comment": self._say("reopen"), "due_date": due})]
        if close_again:
            steps += self._review(wd(r, rng.randint(5, 12)))
        return steps
