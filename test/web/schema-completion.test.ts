// Where the cursor is in a scenario's YAML, and what the schema offers there: expected paths
// written from the YAML by hand, options from `irqlab schema`'s JSON Schema.

import { CompletionContext } from '@codemirror/autocomplete';
import { EditorState } from '@codemirror/state';
import { describe, expect, it } from 'vitest';
import { scenarioJsonSchema } from '../../src/scenario/schema.js';
import { type SchemaNode, schemaCompletion, yamlPath } from '../../web/schema-completion.js';

/** The document with `|` taken out, and the cursor where it was. */
function at(doc: string): { state: EditorState; pos: number } {
  const pos = doc.indexOf('|');
  return { state: EditorState.create({ doc: doc.replace('|', '') }), pos };
}

describe('yamlPath', () => {
  const cases: [string, string, (string | number)[], string | null][] = [
    ['a top-level key', 'name: x\n|', [], null],
    ['a key in a block map', 'host:\n  cpus: 8\n  |', ['host'], null],
    ['a value in a block map', 'host:\n  x2apic: |', ['host'], 'x2apic'],
    ['a key in a flow map under a key', 'host:\n  iommu: { ir: true, |', ['host', 'iommu'], null],
    ['a new list item', 'devices:\n  - name: a\n  - |', ['devices', 0], null],
    ['a sibling key of a list item', 'devices:\n  - name: a\n    |', ['devices', 0], null],
    [
      'a value in a flow map list item, nested',
      'vms:\n  - name: vm0\n    assign:\n      - { device: cx0, guest: |',
      ['vms', 0, 'assign', 0],
      'guest',
    ],
    [
      'a key under a list item key',
      'vms:\n  - name: vm0\n    kernel:\n      version: "6.6"\n      |',
      ['vms', 0, 'kernel'],
      null,
    ],
    ['under a list item first key', 'vms:\n  - kernel:\n      |', ['vms', 0, 'kernel'], null],
    ['past blank lines and comments', 'run:\n  seed: 1\n\n  # c\n  |', ['run'], null],
  ];
  for (const [what, doc, path, key] of cases) {
    it(what, () => {
      const { state, pos } = at(doc);
      expect(yamlPath(state, pos)).toEqual({ path, key });
    });
  }
});

describe('schemaCompletion', () => {
  const schema = scenarioJsonSchema() as SchemaNode;
  const complete = (doc: string) => {
    const { state, pos } = at(doc);
    const r = schemaCompletion(schema)(new CompletionContext(state, pos, true));
    return (r?.options ?? []).map((o) => o.label).sort();
  };
  const props = (n: unknown) => Object.keys((n as { properties: object }).properties).sort();
  const s = schema as unknown as {
    properties: Record<
      string,
      {
        properties: Record<string, unknown>;
        items: { properties: Record<string, { enum?: string[]; items?: unknown }> };
      }
    >;
  };

  it('offers the keys of the object the cursor is in', () => {
    expect(complete('|')).toEqual(props(schema));
    expect(complete('host:\n  cpus: 8\n  |')).toEqual(props(s.properties.host));
    expect(complete('host:\n  iommu: { ir: true, |')).toEqual(
      props(s.properties.host.properties.iommu),
    );
  });

  it("offers a key's enum values, and true/false for a boolean", () => {
    expect(complete('vms:\n  - name: vm0\n    idle: |')).toEqual(
      [...(s.properties.vms.items.properties.idle.enum ?? [])].sort(),
    );
    expect(complete('host:\n  x2apic: |')).toEqual(['false', 'true']);
  });

  it('offers nothing where the schema has no object', () => {
    expect(complete('name: x\nnope:\n  |')).toEqual([]);
  });
});
