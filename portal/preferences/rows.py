"""The centre's grid of topics x channels, both ways: the rows as the page shows them, worked
out in Python before the template runs, and ``read_changes``, the one parser of the grid the
page posts back (the centre's Save, and one row's toggle with htmx). The centre's other inputs
are WTForms forms (``portal.preferences.forms``), like every other form of the portal; the
grid is not, because its fields are the rows themselves: one checkbox per row a person may
tick (``consent`` = "topic:channel") and one hidden ``shown`` per row the page showed
("topic:channel:0|1", the state shown), which is what says a row was on the page at all.

A page has 100-odd rows (brands x topics x channels). Translating, formatting dates and
building URLs inside the row template cost most of the page's time, so every word is
translated once per page, every date formatted once per day, and each row reaches the
template as a plain object holding its final texts. Nothing here outlives the request.
"""

from dataclasses import dataclass

from flask import url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict

from portal.core.consent import labels
from portal.core.consent.preferences import Centre, Change, Key, Outcome
from portal.core.kernel.errors import InvalidInput
from portal.core.kernel.models.base import CHANNELS
from portal.core.people import profile

HOW_BY_DEFAULT = "api"
STALE = _l("This form is out of date. Reload the page and choose again.")


def _key(raw: str) -> tuple[int, str]:
    topic, _, channel = raw.partition(":")
    if not topic.isdigit() or channel not in CHANNELS:
        raise InvalidInput("form", STALE)
    return int(topic), channel


def read_changes(form: MultiDict) -> list[Change]:
    """Every row the page showed (``shown`` = "topic:channel:0|1") against the ticked ones.

    Unticked checkboxes send nothing, so the hidden ``shown`` field is what says a row was
    on the page at all: rows that were not on it are never changed.
    """
    ticked = {_key(raw) for raw in form.getlist("consent")}
    changes = {}
    for raw in form.getlist("shown"):
        head, _, state = raw.rpartition(":")
        if state not in ("0", "1"):
            raise InvalidInput("form", STALE)
        key = _key(head)
        changes[key] = Change(key[0], key[1], wanted=key in ticked, shown=state == "1")
    if not ticked <= changes.keys():
        raise InvalidInput("form", STALE)
    return list(changes.values())


@dataclass(slots=True)
class Row:
    """One consent row: a topic on one channel, ready to print."""

    rid: str  # "12-email": the suffix of the row's element ids
    key: str  # "12:email": the value the form posts
    topic_id: int
    channel: str
    label: str
    url: str
    checked: bool
    shown: str  # "12:email:1": the row's key and the state the page showed (1 on, 0 off)
    hint: str
    asks: bool  # the row asks for the contact field its channel needs
    conflict: bool | None  # changed in another window meanwhile: its state now
    saved: bool


@dataclass(slots=True)
class Section:
    """A topic of a brand with its rows."""

    name: str
    description: str
    rows: list[Row]


@dataclass(slots=True)
class HouseRows:
    """A brand as the centre shows it: a disclosure with a summary of what is on."""

    brand: object  # the core's House: id, slug, name
    leave: str  # its "Unsubscribe from all" URL
    sections: list[Section]
    on: int  # rows ticked
    total: int  # rows shown
    opened: bool  # shown open (see Rows.houses)


def _words() -> dict:
    """Words every row repeats, translated once per page rather than once per row."""
    return {
        "channels": labels.channels(),
        "hows": labels.sources(),
        "granted": _("Since %(date)s, %(how)s on %(brand)s"),
        "pending": _("Waiting for your confirmation since %(date)s"),
        "withdrawn": _("Unsubscribed since %(date)s"),
        "none": _("Not subscribed"),
    }


def _contact_notes(fields: dict) -> dict[str, str]:
    """What follows the hint of an SMS or post row: where those messages go."""
    notes = {}
    mobile = fields.get(profile.MOBILE)
    if mobile:
        notes["sms"] = _("to %(number)s", number=mobile.value)
        if not mobile.verified_at:
            notes["sms"] += f" ({_('not verified')})"
    if fields.get(profile.POSTAL):
        notes["post"] = _("to the postal address you gave")
    return notes


class Rows:
    """Builds the rows of one page: what it shows, and what the last POST left on it.

    ``ticked`` and ``shown`` are the posted ``consent`` and ``shown`` values when a refused
    form is shown again as the person left it; ``needs`` is the row asking for a contact
    field; ``outcome`` what the POST changed and which rows were changed elsewhere.
    """

    def __init__(
        self,
        centre: Centre,
        ticked: set[str] | None = None,
        shown: set[str] | None = None,
        needs: Key | None = None,
        outcome: Outcome | None = None,
    ):
        self.centre = centre
        self.ticked, self.shown, self.needs = ticked, shown, needs
        self.conflicts = outcome.conflicts if outcome else {}
        self.changed = set(outcome.changed) if outcome else set()
        self.words = _words()
        self.notes = _contact_notes(centre.fields)
        self.row_base = url_for(".row", topic_id=0, channel="email").removesuffix("0/email")
        # + a brand's slug, which never needs quoting (brands.SLUG)
        self.leave_base = url_for(".leave", brand="-").removesuffix("-")
        self._days: dict = {}

    def _day(self, moment) -> str:
        day = moment.date()
        if day not in self._days:
            self._days[day] = format_date(moment, "long")
        return self._days[day]

    def _hint(self, key: Key, brand_name: str) -> str:
        held = self.centre.held.get(key)
        if held is None:
            text = self.words["none"]
        elif held.state in ("granted", "pending"):
            hows = self.words["hows"]
            how = hows.get(held.source, hows[HOW_BY_DEFAULT])
            text = self.words[held.state] % {
                "date": self._day(held.since),
                "how": how,
                "brand": brand_name,
            }
        else:
            text = self.words["withdrawn"] % {"date": self._day(held.since)}
        note = self.notes.get(key[1])
        return f"{text} · {note}" if note else text

    def row(self, topic_id: int, channel: str, brand_name: str) -> Row:
        key = (topic_id, channel)
        value = f"{topic_id}:{channel}"
        now_on = self.centre.granted(key)
        checked = was_shown = now_on
        if self.ticked is not None:
            checked = value in self.ticked
            if f"{value}:1" in self.shown:
                was_shown = True
            elif f"{value}:0" in self.shown:
                was_shown = False
        return Row(
            rid=f"{topic_id}-{channel}",
            key=value,
            topic_id=topic_id,
            channel=channel,
            # A channel outside CHANNELS fails here (KeyError), never reaching the page.
            label=self.words["channels"][channel],
            url=f"{self.row_base}{topic_id}/{channel}",
            checked=checked,
            shown=f"{value}:{1 if was_shown else 0}",
            hint=self._hint(key, brand_name),
            asks=self.needs == key,
            conflict=self.conflicts.get(key),
            saved=key in self.changed,
        )

    def houses(self, came_from: str | None = None) -> list[HouseRows]:
        """Every brand with its "Unsubscribe from all" URL, its topics' rows and what is on.

        Open are the house the person came from (``came_from``, a brand's slug), any house
        with something to answer (a row asking, in conflict, or just saved), and otherwise the
        first house where something is on, else the first house. Closed houses' rows are still
        in the form: Save sends them all.
        """
        shown, attention = [], []
        for house in self.centre.houses:
            sections = [
                Section(
                    offer.name,
                    offer.description,
                    [self.row(offer.id, channel, house.name) for channel in offer.channels],
                )
                for offer in house.offers
            ]
            rows = [row for section in sections for row in section.rows]
            attention.append(any(r.asks or r.conflict is not None or r.saved for r in rows))
            on = sum(row.checked for row in rows)
            leave = self.leave_base + house.slug
            shown.append(HouseRows(house, leave, sections, on, len(rows), False))
        first = came_from or next((h.brand.slug for h in shown if h.on), None)
        first = first or (shown[0].brand.slug if shown else None)
        for house, asks in zip(shown, attention, strict=True):
            house.opened = asks or house.brand.slug == first
        return shown

    def find(self, topic_id: int, channel: str) -> Row | None:
        """The one row of ``topic_id`` on ``channel``, if the page shows it."""
        for house in self.centre.houses:
            for offer in house.offers:
                if offer.id == topic_id and channel in offer.channels:
                    return self.row(topic_id, channel, house.name)
        return None
