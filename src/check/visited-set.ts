// The explorer's visited set: open addressing with linear probing over ONE flat Uint32Array,
// power-of-two capacity (2^16 slots to start, fewer for long states: at most 2^20 words),
// doubled when the load would pass 3/4 (reference/explorer-limit.md §4: a
// JS Set of string keys of the same words costs 3.3-3.6x the time and 3x the memory).
// Two ways to store a state:
//  - `full`: the state's K words in its slot (exact: two states share a slot only if equal). An
//    all-zero slot is empty; the all-zero state itself, if the model has one, is kept aside in a
//    flag, so no state is reserved and no side table is needed (a probe costs one access). States
//    of TAGGED_MIN_WORDS words or more (the machine's: hundreds, mostly equal from one state to
//    the next) also keep their hash per slot, never 0: a probe compares the tag before the words,
//    where it would otherwise walk a long common prefix, and a zero tag marks an empty slot;
//  - `fingerprint`: two independent 32-bit hashes of the words (hash compaction, 63 bits kept:
//    the second has bit 0 forced so a zero pair marks an empty slot). Two different states with
//    equal fingerprints would be taken for one and the second never explored: the search is then
//    not exhaustive, which is why results name the store. With n states the chance of any such
//    collision is about n^2 / 2^64 (1e-8 at 500k states).
// Invariants: `size <= capacity * 3/4`; every occupied slot holds a distinct state (full) or a
// distinct fingerprint; the hash is a function of the K words only.

export type StoreKind = 'full' | 'fingerprint';

const MIN_CAPACITY_LOG2 = 16;
/** Words the table starts with at most: a model with long states (the machine's are hundreds of
 *  words) starts with fewer slots instead of 2^16 of them (64 MiB at 256 words), and grows. */
const INITIAL_TABLE_WORDS_MAX = 1 << 20;
/** Slots it starts with at least, whatever the state's length. */
const FLOOR_CAPACITY_LOG2 = 8;
/** Full states at least this long get a tag per slot (4 bytes: under 2% of such a slot). */
const TAGGED_MIN_WORDS = 64;

/** murmur3's 32-bit mix over `k` words (seeded): the slot index and the fingerprint. */
function hashWords(w: Uint32Array, at: number, k: number, seed: number): number {
  let h = seed;
  for (let i = 0; i < k; i++) {
    let x = Math.imul(w[at + i], 0xcc9e2d51);
    x = (x << 15) | (x >>> 17);
    h ^= Math.imul(x, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= k << 2;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function equalWords(a: Uint32Array, at: number, b: Uint32Array, bt: number, k: number): boolean {
  for (let j = 0; j < k; j++) if (a[at + j] !== b[bt + j]) return false;
  return true;
}

function allZero(w: Uint32Array, at: number, k: number): boolean {
  for (let j = 0; j < k; j++) if (w[at + j] !== 0) return false;
  return true;
}

const SEED_INDEX = 0x9747b28c;
const SEED_CHECK = 0x5bd1e995;

export class VisitedSet {
  readonly kind: StoreKind;
  /** Words per state. */
  readonly k: number;
  /** Words per slot: k (full) or 2 (fingerprint). */
  private readonly width: number;
  private table: Uint32Array;
  /** Per slot, the state's hash (never 0; 0: empty) for long full states, else null. */
  private tags: Uint32Array | null;
  private mask: number;
  /** Whether the all-zero state is stored (it cannot be, in a slot). */
  private zeroStored = false;
  size = 0;

  constructor(kind: StoreKind, stateWords: number) {
    this.kind = kind;
    this.k = stateWords;
    this.width = kind === 'full' ? stateWords : 2;
    const tagged = kind === 'full' && stateWords >= TAGGED_MIN_WORDS;
    const slotWords = this.width + (tagged ? 1 : 0);
    let log2 = MIN_CAPACITY_LOG2;
    while (log2 > FLOOR_CAPACITY_LOG2 && (1 << log2) * slotWords > INITIAL_TABLE_WORDS_MAX) log2--;
    const capacity = 1 << log2;
    this.table = new Uint32Array(capacity * this.width);
    this.tags = tagged ? new Uint32Array(capacity) : null;
    this.mask = capacity - 1;
  }

  get capacity(): number {
    return this.mask + 1;
  }

  /** Bytes the set holds now. */
  get bytes(): number {
    return this.table.byteLength + (this.tags?.byteLength ?? 0);
  }

  /** Bytes it will hold after the next growth. */
  get bytesAfterGrowth(): number {
    return 2 * this.bytes;
  }

  /** Whether one more insertion needs the table doubled first. */
  get full(): boolean {
    return (this.size + 1) * 4 > this.capacity * 3;
  }

  /** Inserts the state at `w[at..]`; false if it was already there. The caller grows first when
   *  `full` says so. */
  add(w: Uint32Array, at: number): boolean {
    return this.kind === 'full' ? this.addFull(w, at, true) : this.addPrint(w, at, true);
  }

  has(w: Uint32Array, at: number): boolean {
    return !(this.kind === 'full' ? this.addFull(w, at, false) : this.addPrint(w, at, false));
  }

  private addFull(w: Uint32Array, at: number, insert: boolean): boolean {
    const k = this.k;
    const table = this.table;
    const mask = this.mask;
    if (allZero(w, at, k)) {
      if (this.zeroStored) return false;
      if (insert) {
        this.zeroStored = true;
        this.size++;
      }
      return true;
    }
    const hash = hashWords(w, at, k, SEED_INDEX);
    if (this.tags !== null) return this.addTagged(w, at, hash === 0 ? 1 : hash, insert);
    let i = hash & mask;
    for (;;) {
      const base = i * k;
      let j = 0;
      while (j < k && table[base + j] === w[at + j]) j++;
      if (j === k) return false;
      if (table[base] === 0 && allZero(table, base, k)) break;
      i = (i + 1) & mask;
    }
    if (insert) {
      const base = i * k;
      for (let j = 0; j < k; j++) table[base + j] = w[at + j];
      this.size++;
    }
    return true;
  }

  /** addFull with a tag per slot: equal states have equal tags, so the words are compared only
   *  where the tags agree. */
  private addTagged(w: Uint32Array, at: number, tag: number, insert: boolean): boolean {
    const k = this.k;
    const table = this.table;
    const tags = this.tags as Uint32Array;
    const mask = this.mask;
    let i = tag & mask;
    for (;;) {
      const t = tags[i];
      if (t === 0) break;
      if (t === tag && equalWords(table, i * k, w, at, k)) return false;
      i = (i + 1) & mask;
    }
    if (insert) {
      table.set(w.subarray(at, at + k), i * k);
      tags[i] = tag;
      this.size++;
    }
    return true;
  }

  private addPrint(w: Uint32Array, at: number, insert: boolean): boolean {
    const a = hashWords(w, at, this.k, SEED_INDEX);
    const b = (hashWords(w, at, this.k, SEED_CHECK) | 1) >>> 0;
    const table = this.table;
    const mask = this.mask;
    let i = a & mask;
    for (;;) {
      const base = i * 2;
      const sb = table[base + 1];
      if (sb === 0) break;
      if (sb === b && table[base] === a) return false;
      i = (i + 1) & mask;
    }
    if (insert) {
      table[i * 2] = a;
      table[i * 2 + 1] = b;
      this.size++;
    }
    return true;
  }

  /** Doubles the capacity and re-inserts every stored state (fingerprints carry their index
   *  hash, so they move without the states). */
  grow(): void {
    const oldTable = this.table;
    const oldCapacity = this.capacity;
    const capacity = oldCapacity * 2;
    this.table = new Uint32Array(capacity * this.width);
    this.mask = capacity - 1;
    if (this.tags !== null) {
      this.moveTagged(oldTable, this.tags, oldCapacity);
      return;
    }
    if (this.kind === 'full') {
      this.size = this.zeroStored ? 1 : 0;
      for (let i = 0; i < oldCapacity; i++) {
        if (!allZero(oldTable, i * this.k, this.k)) this.addFull(oldTable, i * this.k, true);
      }
      return;
    }
    this.size = 0;
    for (let i = 0; i < oldCapacity; i++) {
      const a = oldTable[i * 2];
      const b = oldTable[i * 2 + 1];
      if (b === 0) continue;
      let j = a & this.mask;
      while (this.table[j * 2 + 1] !== 0) j = (j + 1) & this.mask;
      this.table[j * 2] = a;
      this.table[j * 2 + 1] = b;
      this.size++;
    }
  }

  /** Re-inserts the tagged slots of the old table into the new one (the tag is the hash). */
  private moveTagged(oldTable: Uint32Array, oldTags: Uint32Array, oldCapacity: number): void {
    const k = this.k;
    const tags = new Uint32Array(this.capacity);
    for (let i = 0; i < oldCapacity; i++) {
      const tag = oldTags[i];
      if (tag === 0) continue;
      let j = tag & this.mask;
      while (tags[j] !== 0) j = (j + 1) & this.mask;
      tags[j] = tag;
      this.table.set(oldTable.subarray(i * k, i * k + k), j * k);
    }
    this.tags = tags;
  }
}
