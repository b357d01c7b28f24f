// The shipped scenarios (scenarios/*.yaml, the conformance ones aside), read by the tests that
// run every one of them under every strategy its rules allow.
import { readdirSync, readFileSync } from 'node:fs';

const DIR = new URL('../scenarios/', import.meta.url);

export const SHIPPED = readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

export const shippedText = (file: string): string => readFileSync(new URL(file, DIR), 'utf8');
