/**
 * Keeps a built-in prototype in V8's fast (map-based) mode.
 *
 * When an object becomes the prototype of a new one (`class X extends String` in a library: ioredis's
 * `VerbatimString`), V8 normalises it into dictionary mode unless it is already marked as a prototype that
 * should stay fast; only an inline cache that looks a property up through it from an object marks it so
 * (and turns it fast again). Primitive receivers never do: `'abc'.charCodeAt(0)` looks up
 * `String.prototype` from a string, not an object. A dictionary-mode `String.prototype` costs every string
 * method call in optimised code a generic property load (`LoadIC`) instead of a constant: in the NOTIFY
 * fan-out that was a tenth of the daemon's CPU (hashing a document character by character, matching headers).
 *
 * This looks a property up through `proto` from an object often enough for V8 to give the load an inline
 * cache, which marks `proto` as a fast prototype and makes it fast; later `extends` no longer normalise it.
 */
export function keepPrototypeFast(proto: object): void {
  const probe = Object.create(proto) as Record<string, unknown>;
  const load = (): unknown => probe['constructor'];
  // V8 gives a function its feedback (and so its inline caches) after a few calls; 64 is ample.
  for (let i = 0; i < 64; i++) load();
}
