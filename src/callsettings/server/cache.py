"""What the read path keeps in memory: people, organizations and encoded documents.

Reads are far more frequent than writes, and a read that touches the database costs more
than the whole HTTP stack, so a replica aims to hold every person it serves: a worker
starts by loading people up to its bound (warmup.py), and keeps them until a change evicts
them. A write on this replica evicts the person at once (so this replica never serves a
stale document after a successful PUT), and other replicas evict when they hear of it (see
invalidation.py). Expiry is the last resort for anything the change feed cannot name.

A read that raced a write must not put the old value back: each person has a generation
that eviction bumps, and a value read from the database is stored only if the generation
it was read under is still current.

Holding 100,000 people in a worker is a question of bytes per person, so a person is kept
as one tuple of bytes: the person packed with msgpack (about 150 bytes, 1 us to unpack),
and each document deflated against its feature's default document as a preset dictionary
(a changed forwarding document is about 25 bytes; the default one is the empty string,
shared). Tuples of bytes are also invisible to the garbage collector. Everything derived
from them (compiled subscribers, encoded decisions) is rebuilt cheaply and kept in small
bounded maps.
"""

from __future__ import annotations

import asyncio
import time
import uuid
import zlib
from collections import OrderedDict
from collections.abc import Callable, Collection
from datetime import datetime
from itertools import islice
from typing import Generic, TypeVar, cast

import msgspec

from callsettings.engine import Subscriber
from callsettings.settings import CallForwarding, CallWaiting, DoNotDisturb, Voicemail
from callsettings.storage.records import Organization, Person, PhoneNumber

# In the dial maps: the extension or number belongs to nobody in the organization (an
# outside number, typically a forwarding destination), which is worth remembering too.
NOBODY = uuid.UUID(int=0)

# The most compiled subscribers (about 2 KB each) and encoded decisions (about 600 bytes)
# kept: rebuilding one from the packed person takes about 10 us, a decision 50 us.
MAX_COMPILED = 1024
MAX_DERIVED = 4096
# Evicted people whose generation is remembered; past it, a new epoch starts (see evict_person).
MAX_GENERATIONS = 8192
# Forgotten answers waiting for warmup.redecide. It decides only while the worker has no
# request in flight, so under a stream of changes many wait here; each costs about 150
# bytes (the id came with the change: a UUID of its own). 60,000 changes to random people
# of 100,000 at once left 45,000 waiting in 6.8 MB (tracemalloc).
# Past the bound the oldest are dropped, and the keeper then looks at everyone held once
# it has time (take_sweep); until then their answers are decided on their next call.
MAX_UNDECIDED = 16_384
# Own audit events waiting for the change feed to pass them (it polls every 0.25 s).
MAX_OWN_EVENTS = 4096
# Distinct answer shapes remembered for sharing. A change usually makes a shape nobody else
# has, and the one it replaced stays in the table until it is cleared: with the table as
# large as the people held, 45,000 changes at 100,000 people left about 6 MB of dead shapes.
# Clearing it more often costs only some sharing (answers keep the shapes they point to).
MAX_SHAPES = 16_384

K = TypeVar("K")
V = TypeVar("V")


class _Expiring(Generic[K, V]):
    """A dict whose entries expire; past its bound it forgets its oldest tenth."""

    def __init__(self, ttl: float, max_entries: int, clock: Callable[[], float]) -> None:
        self._ttl = ttl
        self._max_entries = max_entries
        self._clock = clock
        # Ordered, for popitem(last=False): dropping from the front of a plain dict walks
        # over the holes earlier drops left (6 % of a decision in a py-spy profile).
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self._clock() >= entry[0]:
            self._entries.pop(key, None)
            return None
        return entry[1]

    def put(self, key: K, value: V) -> None:
        if self._ttl <= 0:
            return
        entries = self._entries
        if len(entries) >= self._max_entries and key not in entries:
            # Oldest first, by insertion order: no bookkeeping on reads, unlike an LRU, and
            # no cliff where every entry goes at once.
            for _ in range(max(1, self._max_entries // 10)):
                entries.popitem(last=False)
        entries[key] = (self._clock() + self._ttl, value)

    def pop(self, key: K) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


# An organization past this share of its life is still served, and listed for
# warmup.org_renewer to read again (see _Renewed).
RENEW_AFTER = 0.5


class _Renewed(_Expiring[K, V]):
    """An _Expiring whose entries, once past RENEW_AFTER of their life, are still served
    and are listed (take_due) for a background read that puts them back.

    Every request needs its organization. Left to expire, it was read again by the
    requests that found it gone, each its own round trip: on a busy PostgreSQL, one every
    minute and worker that took tens of milliseconds to seconds while the worker's requests
    queued behind it. Renewed ahead, it never expires while the database answers within
    the rest of its life, and is never served older than its ttl.
    """

    def __init__(self, ttl: float, max_entries: int, clock: Callable[[], float]) -> None:
        super().__init__(ttl, max_entries, clock)
        self._margin = ttl * (1 - RENEW_AFTER)  # the life left when renewal is due
        self._due: set[K] = set()

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        now = self._clock()
        if now >= entry[0] - self._margin:
            if now >= entry[0]:
                self._entries.pop(key, None)
                return None
            self._due.add(key)
        return entry[1]

    def take_due(self) -> list[K]:
        """The keys asked for past RENEW_AFTER of their life, and still held; each once."""
        due = [key for key in self._due if key in self._entries]
        self._due.clear()
        return due


def _make_room(entries: dict[K, V], max_entries: int) -> None:
    if len(entries) >= max_entries:
        # The oldest tenth, by insertion order. Rare for people (the bound is sized to hold
        # them all), so a plain dict's smaller entries win over OrderedDict's O(1) drops.
        for old in list(islice(entries, max(1, max_entries // 10))):
            del entries[old]


# ---- packing ---------------------------------------------------------------------------

# The order of the document slots in a person's record, after (expires, packed person).
FEATURES = ("callForwarding", "doNotDisturb", "callWaiting", "voicemail")
_SLOT = {feature: 2 + n for n, feature in enumerate(FEATURES)}
_NOT_READ: tuple[None, ...] = (None,) * len(FEATURES)

# A person packs as an array of their fields (a map would spend half its bytes on names),
# without their id: it is the key they are held under.
_PackedPerson = tuple[
    uuid.UUID,
    uuid.UUID | None,
    str,
    str,
    str,
    str,
    str | None,
    tuple[tuple[str, str, bool], ...],
    tuple[str, ...],
    datetime,
    datetime,
]
_encode = msgspec.msgpack.Encoder(uuid_format="bytes").encode
_decode = msgspec.msgpack.Decoder(_PackedPerson).decode


def pack_person(p: Person) -> bytes:
    numbers = tuple((n.number, n.type, n.primary) for n in p.phone_numbers)
    return _encode(
        (
            p.org_id,
            p.location_id,
            p.email,
            p.display_name,
            p.first_name,
            p.last_name,
            p.extension,
            numbers,
            p.roles,
            p.created,
            p.last_modified,
        )
    )


# Leading fields of a packed person, for the checks that need only those: an array-like
# Struct ignores the elements past its own, so nothing is made of the rest (a tuple of
# msgspec.Raw made an object of each: decoding a placement took 0.42 us that way, 0.24 so).
class _Placement(msgspec.Struct, array_like=True):
    """Where a person is, for who may act on them: their organization and location."""

    org_id: uuid.UUID
    location_id: uuid.UUID | None


class _Identity(msgspec.Struct, array_like=True):
    """Who a person is, for a decision's answer: their name and extension."""

    org_id: msgspec.Raw
    location_id: msgspec.Raw
    email: msgspec.Raw
    display_name: str
    first_name: msgspec.Raw
    last_name: msgspec.Raw
    extension: str | None


_decode_identity = msgspec.msgpack.Decoder(_Identity).decode
_decode_placement = msgspec.msgpack.Decoder(_Placement).decode


def unpack_person(person_id: uuid.UUID, packed: bytes) -> Person:
    (org_id, location_id, email, name, first, last, extension, numbers, roles, created,
     modified) = _decode(packed)  # fmt: skip
    return Person(
        person_id,
        org_id,
        location_id,
        email,
        name,
        first,
        last,
        extension,
        tuple(PhoneNumber(*n) for n in numbers),
        roles,
        created,
        modified,
    )


# Each feature's default document: the preset dictionary its documents deflate against.
DICTIONARIES = {
    feature: msgspec.json.encode(model())
    for feature, model in zip(
        FEATURES, (CallForwarding, DoNotDisturb, CallWaiting, Voicemail), strict=True
    )
}
_AS_DICTIONARY = b""


def deflate(dictionary: bytes, encoded: bytes) -> bytes:
    """`encoded`, compressed against `dictionary` (the empty string when they are equal)."""
    if encoded == dictionary:
        return _AS_DICTIONARY
    # A 2 KB window and the smallest hash: documents and dictionaries are under 1 KB, and
    # zlib's defaults (32 KB, memory level 9) allocated and cleared about 400 KB a call,
    # 4.6 us against 2.6 for the same bytes out (timeit). inflate reads either.
    packer = zlib.compressobj(9, zlib.DEFLATED, -11, 1, zlib.Z_DEFAULT_STRATEGY, dictionary)
    return packer.compress(encoded) + packer.flush()


def inflate(dictionary: bytes, packed: bytes) -> bytes:
    if packed == _AS_DICTIONARY:
        return dictionary
    return zlib.decompressobj(-15, zdict=dictionary).decompress(packed)


# A person's record: (expires, packed person, then one packed document or None per feature).
_Record = tuple[float, bytes, bytes | None, bytes | None, bytes | None, bytes | None]


# A held person's key in the maps below: their UUID's integer. A UUID hashes and compares
# in Python code (UUID.__hash__, UUID.__eq__), an int in C: at 100,000 people, where every
# look-up misses the CPU's caches, a look-up by UUID took 0.61 us and one by int 0.27
# (in process, random people), and a request makes three or four.
_Key = int

# Who read a person's settings: one person as such, a few as a tuple, many as a set.
_Readers = _Key | tuple[_Key, ...] | set[_Key]
_MAX_READERS_TUPLE = 8


def _each(readers: _Readers | None) -> Collection[_Key]:
    if readers is None:
        return ()
    return (readers,) if isinstance(readers, int) else readers


def _with(readers: _Readers | None, reader: _Key) -> _Readers:
    """`readers` with `reader` among them (the same object when it already is)."""
    if readers is None or readers == reader:
        return reader
    if isinstance(readers, int):
        return (readers, reader)
    if reader in readers:
        return readers
    if isinstance(readers, set):
        readers.add(reader)
        return readers
    if len(readers) < _MAX_READERS_TUPLE:
        return (*readers, reader)
    return {*readers, reader}


class SettingsCache:
    def __init__(
        self,
        ttl: float,
        max_people: int = 125_000,
        clock: Callable[[], float] = time.monotonic,
        people_ttl: float | None = None,
    ) -> None:
        self._ttl = ttl
        # People are evicted by every change that names them, so their expiry is only a
        # safety net; it defaults to the general one.
        self._people_ttl = ttl if people_ttl is None else people_ttl
        self._max_people = max_people
        self._clock = clock
        self._people: dict[_Key, _Record] = {}
        self._expiry_set_at = -float("inf")
        self._shared_expiry = 0.0
        self.orgs: _Renewed[uuid.UUID, Organization] = _Renewed(ttl, 10_000, clock)
        self._known_orgs: dict[uuid.UUID, Organization] = {}
        # What was dialled -> whom, per organization. A person's extension and numbers change
        # only by provisioning, and they are never reused while the person exists, so a
        # known owner is kept as long as the people are; "nobody" may change when someone
        # is provisioned, so it expires with the general ttl.
        self._owners: dict[uuid.UUID, dict[str, uuid.UUID]] = {}
        self._owner_count = 0
        # Numbers forwarded to that nobody has: as many as people may forward to them.
        self._nobody: _Expiring[tuple[uuid.UUID, str], bool] = _Expiring(
            ttl, max(10_000, max_people), clock
        )
        # A person compiled for the engine; rebuilt from the record when it is not here.
        self.subscribers: _Expiring[uuid.UUID, Subscriber] = _Expiring(ttl, MAX_COMPILED, clock)
        # Encoded decisions by (org, called, state, diversions, explain), each with the
        # eviction count it was made under: any eviction may change who a decision reaches,
        # so an answer is reused only while nobody has been evicted since.
        self.decisions: _Expiring[tuple[object, ...], tuple[int, bytes]] = _Expiring(
            ttl, MAX_DERIVED, clock
        )
        # The answer to the plainest decision question (called, nothing else: what a proxy
        # asks for a new call), per called person, kept for everyone held: a proxy asks for
        # anyone. What is kept is the answer's treatment with the person's own id taken out
        # (see webex/treatment.py), interned: most people share a handful of shapes, so an
        # answer costs a dict slot, not 600 bytes. An answer depends on the person's own
        # settings and on those of whoever the decision consulted (a forward landing in a
        # colleague's voicemail depends on theirs): it is forgotten when any of them is
        # evicted, and no other eviction touches it.
        self._answers: dict[_Key, bytes] = {}
        # Consulted person -> the people whose kept answers read their settings. Entries of
        # answers forgotten since stay until the consulted person is evicted (then they
        # cost one needless decision); the map is bounded like the people (see put_answer).
        # Most people are consulted by one or two, so the readers are kept as compactly as
        # they come (see _Readers): a set is 216 bytes even for one.
        self._readers: dict[_Key, _Readers] = {}
        # When an answer that consulted someone else expires, each on its own (as a
        # safety net for what no eviction names: provisioning may give a number nobody had
        # to someone, and writes no event). Checked when the answer is asked for, so answers
        # made together do not all go at once. Negated once the answer has been asked for
        # (see expire_answers): the mark costs no memory, the float is replaced.
        self._expiry: dict[_Key, float] = {}
        self._shapes: dict[bytes, bytes] = {}
        # Held people whose answers were forgotten, for warmup.AnswerKeeper to decide again.
        self._undecided: dict[_Key, None] = {}
        self._sweep_wanted = False  # see take_sweep
        # Held people whose documents were evicted, oldest first, for warmup.Refresher.
        self._stale: dict[_Key, None] = {}
        # Audit events of changes this replica committed and already applied here, for
        # the change feed to skip (see own_change); bounded, oldest forgotten first.
        self._own_events: dict[int, None] = {}
        self._generations: dict[_Key, int] = {}
        self._epoch = 0
        # Counts every eviction: a read that found a person it could not name beforehand
        # (by a dialled number) is cached only if nobody was evicted while it ran.
        self.evictions = 0
        # Database reads in flight, keyed with the generation they serve, so that a burst of
        # misses for one entry makes one read, and a read begun before a write is never
        # joined by a request that arrived after it.
        self.flights: dict[tuple[object, ...], asyncio.Future[object]] = {}

    # ---- people and their documents ------------------------------------------------

    def _record(self, key: _Key) -> _Record | None:
        record = self._people.get(key)
        if record is not None and self._clock() >= record[0]:
            del self._people[key]
            self._answers.pop(key, None)  # made from what expired with them
            return None
        return record

    def _people_expiry(self) -> float:
        """When a person held now expires; one float shared by everyone held in the same
        second (100,000 floats of their own would be 2.4 MB)."""
        now = self._clock()
        if now >= self._expiry_set_at + 1.0:
            self._expiry_set_at = now
            self._shared_expiry = now + self._people_ttl
        return self._shared_expiry

    def person(self, person_id: uuid.UUID) -> Person | None:
        record = self._record(person_id.int)
        return None if record is None else unpack_person(person_id, record[1])

    def holds_person(self, person_id: uuid.UUID) -> bool:
        """Whether this person is held (unexpired), without unpacking them."""
        return self._record(person_id.int) is not None

    def placement(self, person_id: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID | None] | None:
        """A held person's organization and location, without unpacking the rest (a read
        or change checks only these before it goes to the document)."""
        record = self._record(person_id.int)
        if record is None:
            return None
        placed = _decode_placement(record[1])
        return placed.org_id, placed.location_id

    def name_and_extension(self, person_id: uuid.UUID) -> tuple[str, str | None] | None:
        """A held person's display name and extension, without unpacking the rest."""
        record = self._record(person_id.int)
        if record is None:
            return None
        who = _decode_identity(record[1])
        return who.display_name, who.extension

    def document(self, person_id: uuid.UUID, feature: str) -> bytes | None:
        """The encoded document as GET serves it, if this person's is held."""
        record = self._record(person_id.int)
        packed = None if record is None else cast(bytes | None, record[_SLOT[feature]])
        return None if packed is None else inflate(DICTIONARIES[feature], packed)

    def generation(self, person_id: uuid.UUID) -> tuple[int, int]:
        return self._epoch, self._generations.get(person_id.int, 0)

    def mark(self) -> tuple[int, int]:
        """Where evictions stand now, for evicted_since."""
        return self._epoch, self.evictions

    def evicted_since(self, person_id: uuid.UUID, mark: tuple[int, int]) -> bool:
        """Whether this person may have been evicted since `mark` was taken (a new epoch
        counts as everyone)."""
        epoch, evictions = mark
        return epoch != self._epoch or self._generations.get(person_id.int, 0) > evictions

    def put_person(self, person: Person, generation: tuple[int, int]) -> None:
        """Hold `person`, keeping any documents already held (they share the generation)."""
        if self.generation(person.id) != generation or self._people_ttl <= 0:
            return
        key = person.id.int
        record = self._record(key)
        documents = _NOT_READ if record is None else record[2:]
        if record is None:
            _make_room(self._people, self._max_people)
            # Not held until now (never, or dropped for room): an answer kept from before
            # may be older than what was just read.
            self._answers.pop(key, None)
        self._people[key] = (self._people_expiry(), pack_person(person), *documents)

    def put_document(
        self, person_id: uuid.UUID, feature: str, encoded: bytes, generation: tuple[int, int]
    ) -> None:
        """Attach a document to a held person (a person not held has nowhere to keep it)."""
        key = person_id.int
        record = self._record(key)
        if record is None:
            return
        slot = _SLOT[feature]
        if self.generation(person_id) != generation:
            if record[slot] is None:
                self._stale[key] = None  # still to be read back, by warmup.refresh
            return
        packed = deflate(DICTIONARIES[feature], encoded)
        held: _Record = (*record[:slot], packed, *record[slot + 1 :])  # type: ignore[assignment]
        self._people[key] = held
        if key in self._stale and None not in held[2:]:
            del self._stale[key]  # nothing left to read back

    def holds(self, person_id: uuid.UUID, feature: str) -> bool:
        """Whether this person's `feature` document is held (then it is current)."""
        record = self._record(person_id.int)
        return record is not None and record[_SLOT[feature]] is not None

    def put_subscriber(
        self, person_id: uuid.UUID, compiled: Subscriber, generation: tuple[int, int]
    ) -> None:
        if self.generation(person_id) == generation:
            self.subscribers.put(person_id, compiled)

    def people_held(self) -> int:
        return len(self._people)

    def put_org(self, org: Organization) -> None:
        """Hold `org`; if it changed since it was last read, forget every person first.

        Documents are held encoded, with org-wide values in them (the system maximum of
        rings), so a changed organization makes them all suspect. Organizations change only
        by provisioning, rarely: starting afresh is simpler than finding their people.
        """
        known = self._known_orgs.get(org.id)
        if known is not None and known != org:
            self.evict_all()
        self._known_orgs[org.id] = org
        self.orgs.put(org.id, org)

    def held_orgs(self) -> list[Organization]:
        return list(self._known_orgs.values())

    def held_org(self, org_id: uuid.UUID) -> Organization | None:
        """The organization as the documents held were read under, even past its expiry
        (a changed one, once read again, drops everyone: put_org)."""
        return self._known_orgs.get(org_id)

    # ---- who was dialled -----------------------------------------------------------

    def extensions(self, org_id: uuid.UUID) -> list[str]:
        """The extensions of an organization whose owners are held."""
        return list(self._owners.get(org_id, ()))

    def owner(self, org_id: uuid.UUID, dialled: str) -> uuid.UUID | None:
        """The person with this extension or number, NOBODY (the constant itself, so that
        `is NOBODY` tells), or None when not known."""
        owners = self._owners.get(org_id)
        found = None if owners is None else owners.get(dialled)
        if found is not None:
            return found
        return NOBODY if self._nobody.get((org_id, dialled)) else None

    def put_owner(self, org_id: uuid.UUID, dialled: str, person_id: uuid.UUID) -> None:
        if person_id == NOBODY:
            self._nobody.put((org_id, dialled), True)
            return
        if self._ttl <= 0:
            return
        if self._owner_count >= 2 * self._max_people:
            # Past the bound (two per person: an extension and a number), start afresh
            # rather than track ages: owners are relearned by one indexed query each.
            self._owners.clear()
            self._owner_count = 0
        owners = self._owners.setdefault(org_id, {})
        if dialled not in owners:
            self._owner_count += 1
        owners[dialled] = person_id

    # ---- decisions -----------------------------------------------------------------

    def answer(self, person_id: uuid.UUID, *, asked: bool = True) -> bytes | None:
        """The kept shape of the answer to a new call to this person, if there is one;
        `asked`: for a call (the cache's own look, deciding ahead, says False)."""
        key = person_id.int
        if self._expiry:
            expires = self._expiry.get(key)
            if expires is not None:
                if self._clock() >= abs(expires):
                    self._forget_answer(key)
                elif asked and expires > 0:
                    self._expiry[key] = -expires  # worth deciding again once it expires
        return self._answers.get(key)

    def put_answer(
        self,
        person_id: uuid.UUID,
        shape: bytes,
        evictions: int,
        *,
        consulted: Collection[uuid.UUID] = (),
        expiring: bool = False,
    ) -> None:
        """Keep a shape made while the eviction count was `evictions`, if it still is;
        `consulted`: the others whose settings the decision read; `expiring`: it met a number
        nobody has."""
        if evictions != self.evictions or self._ttl <= 0:
            return
        key = person_id.int
        _make_room(self._answers, self._max_people)
        if len(self._shapes) >= MAX_SHAPES:
            self._shapes.clear()  # shapes of answers dropped since; kept answers keep theirs
        self._answers[key] = self._shapes.setdefault(shape, shape)
        self._expiry.pop(key, None)
        if consulted or expiring:
            self._expiry[key] = self._clock() + self._ttl
        if consulted and len(self._readers) >= self._max_people:
            # Rare (each answer reads a colleague or two): forget every answer that consulted
            # someone rather than track which reader entries are still live.
            for readers in list(self._readers.values()):
                for reader in _each(readers):
                    self._forget_answer(reader)
            self._readers.clear()
        for other in consulted:
            if other != person_id:
                self._readers[other.int] = _with(self._readers.get(other.int), key)

    def answers_kept(self) -> int:
        return len(self._answers)

    def take_undecided(self, limit: int) -> list[uuid.UUID]:
        """Up to `limit` held people whose answers were forgotten, and whose documents are
        all held again (the others wait for warmup.refresh)."""
        taken: list[uuid.UUID] = []
        for key in list(islice(self._undecided, 4 * limit)):
            record = self._people.get(key)
            if record is not None and None in record[2:]:
                continue
            del self._undecided[key]
            if record is not None and key not in self._answers:
                taken.append(uuid.UUID(int=key))
                if len(taken) == limit:
                    break
        return taken

    def _forget_answer(self, key: _Key) -> None:
        self._expiry.pop(key, None)
        if self._answers.pop(key, None) is not None and key in self._people:
            if len(self._undecided) >= MAX_UNDECIDED:
                self._sweep_wanted = True  # the oldest go: only a look at everyone finds them
            _make_room(self._undecided, MAX_UNDECIDED)
            self._undecided[key] = None

    def expire_answers(self, limit: int) -> None:
        """Look at up to `limit` kept answers past their expiry, oldest first: forget those
        asked for since they were made, for warmup.AnswerKeeper to decide again, and drop
        the others.

        Answers made together (the warm start's) expire together, and at 100,000 people
        the calls after that compile each person and whoever they reach again (a PostgreSQL
        run measured 84 us a decision at 100,000 people against 64 at 1,000). Deciding every
        expired answer again instead cost an idle worker that CPU every ttl for people
        nobody calls; a proxy's callers are the ones it asked for.
        """
        now = self._clock()
        expired = []
        # Oldest first: every expiry is set `ttl` after its answer was kept, and a kept
        # answer's entry is put at the end (put_answer); marking it asked keeps its place.
        for key, expires in islice(self._expiry.items(), limit):
            if abs(expires) > now:
                break
            expired.append((key, expires < 0))
        for key, asked in expired:
            if asked:
                self._forget_answer(key)
            else:
                del self._expiry[key]
                self._answers.pop(key, None)  # decided on its next call, if one comes

    def take_sweep(self) -> bool:
        """Whether answers were forgotten past MAX_UNDECIDED since last asked: then some
        held people without an answer are named nowhere, and the keeper looks at everyone."""
        wanted, self._sweep_wanted = self._sweep_wanted, False
        return wanted

    def _forget_readers(self, key: _Key) -> None:
        """Forget the answers that read this person's settings."""
        for reader in _each(self._readers.pop(key, None)):
            self._forget_answer(reader)

    def _forget_answers(self) -> None:
        self._answers.clear()
        self._readers.clear()
        self._expiry.clear()
        self._shapes.clear()
        self._undecided.clear()

    # ---- eviction ------------------------------------------------------------------

    def evict_person(self, person_id: uuid.UUID, feature: str | None = None) -> None:
        """Forget a person's `feature` document (None or another name: all of them), what
        was derived from them, and refuse values read before now.

        Who they are stays: a person's identity never changes once provisioned, and the
        write path authorizes from it (the next PUT of the same person needs no read).
        """
        key = person_id.int
        if len(self._generations) >= MAX_GENERATIONS and key not in self._generations:
            # Generations only refuse reads in flight, but a writer changes a new person each
            # time and the map would grow to everyone (7 MB at 100,000 people). A new epoch
            # refuses every read in flight instead, once per MAX_GENERATIONS people changed;
            # what it refuses is read again (put_document).
            self._generations.clear()
            self._epoch += 1
        self.evictions += 1
        # The count of evictions at the person's last one: it only grows, so it also tells
        # whether they were evicted since a mark (evicted_since).
        self._generations[key] = self.evictions
        record = self._people.get(key)
        if record is not None:
            self._stale[key] = None
            slot = _SLOT.get(feature or "")
            if slot is None:
                self._people[key] = (record[0], record[1], None, None, None, None)
            else:
                self._people[key] = (*record[:slot], None, *record[slot + 1 :])  # type: ignore[assignment]
        self.subscribers.pop(person_id)
        self._forget_answer(key)
        self._forget_readers(key)

    def replace_document(self, person_id: uuid.UUID, feature: str, encoded: bytes) -> None:
        """Evict a person's `feature` document and hold `encoded`, the one a change committed
        elsewhere wrote, in its place: no read back (a person not held stays not held)."""
        self.evict_person(person_id, feature)
        self.put_document(person_id, feature, encoded, self.generation(person_id))

    def wrote(self, event_id: int) -> None:
        """Note the audit event of a change this replica committed and applied itself."""
        _make_room(self._own_events, MAX_OWN_EVENTS)
        self._own_events[event_id] = None

    def own_change(self, event_id: int) -> bool:
        """Whether the change feed's event is one this replica applied when it committed.

        Evicting again would only send the document to be read back for nothing: every
        read begun before the commit was already refused by the writer's own eviction.
        """
        if event_id not in self._own_events:
            return False
        del self._own_events[event_id]
        return True

    def take_stale(self, limit: int) -> list[uuid.UUID]:
        """Up to `limit` held people whose documents were evicted since last asked."""
        taken = list(islice(self._stale, limit))
        for key in taken:
            del self._stale[key]
        return [uuid.UUID(int=key) for key in taken]

    def evict_all(self) -> None:
        self._people.clear()
        self._stale.clear()
        self.orgs.clear()
        self._owners.clear()
        self._owner_count = 0
        self._nobody.clear()
        self.subscribers.clear()
        self.decisions.clear()
        self._forget_answers()
        self._epoch += 1
        self.evictions += 1
