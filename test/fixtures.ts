// Where the recorded fixtures are: CI clones the repository with `shared/` beside it.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const FIXTURES = fileURLToPath(new URL('../../shared/fixtures/', import.meta.url));

export const readFixture = (relative: string): string => readFileSync(FIXTURES + relative, 'utf8');
export const readFixtureBytes = (relative: string): Uint8Array => readFileSync(FIXTURES + relative);
