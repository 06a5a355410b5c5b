// Name generation for metadata.generateName, as upstream's SimpleNameGenerator
// (k8s.io/apiserver/pkg/storage/names): the base, cut so the whole name fits 63 characters,
// then 5 characters from an alphabet without vowels (so no words) or look-alikes (0/o, 1/l, 3/e).

import { randomInt } from 'node:crypto';

export const NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
export const MAX_NAME_LENGTH = 63;
export const RANDOM_LENGTH = 5;
export const MAX_GENERATED_NAME_LENGTH = MAX_NAME_LENGTH - RANDOM_LENGTH;

/** A random string of `n` characters from upstream's alphabet (utilrand.String). */
export function randomString(n: number, random: (max: number) => number = randomInt): string {
  let s = '';
  for (let i = 0; i < n; i++) s += NAME_ALPHABET[random(NAME_ALPHABET.length)];
  return s;
}

/** `generateName("web-")` → "web-x7k2p". `random(max)` returns an integer in [0, max); tests may fix it. */
export function generateName(base: string, random: (max: number) => number = randomInt): string {
  const prefix = base.length > MAX_GENERATED_NAME_LENGTH ? base.slice(0, MAX_GENERATED_NAME_LENGTH) : base;
  return prefix + randomString(RANDOM_LENGTH, random);
}
