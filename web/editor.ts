// The scenario editor: CodeMirror 6 with YAML highlighting, completion of keys and enum values
// from the scenario JSON Schema (`irqlab schema`, scenario/schema.ts), and validation as you
// type by the CLI's own loader (scenario/load.ts): each issue at its line and column, in the
// CLI's words (`file:line:col: path: problem [rule: name]`, scenario/errors.ts formatIssue).

import { autocompletion } from '@codemirror/autocomplete';
import { yaml } from '@codemirror/lang-yaml';
import { type Diagnostic, linter, lintGutter } from '@codemirror/lint';
import type { EditorState } from '@codemirror/state';
import { EditorView } from '@codemirror/view';
import { basicSetup } from 'codemirror';
import { formatIssue, ScenarioError, type ScenarioIssue } from '../src/scenario/errors.js';
import { loadScenario } from '../src/scenario/load.js';
import { scenarioJsonSchema } from '../src/scenario/schema.js';
import { type SchemaNode, schemaCompletion } from './schema-completion.js';

/** The loader's verdict on `text`: the issues it reports, none when the scenario is valid. */
export function validate(text: string, file: string): ScenarioIssue[] {
  try {
    loadScenario(text, file);
    return [];
  } catch (e) {
    // Anything else is an irqlab bug, and is not hidden as a problem of the text.
    if (e instanceof ScenarioError) return [...e.issues];
    throw e;
  }
}

function diagnostics(state: EditorState, issues: readonly ScenarioIssue[]): Diagnostic[] {
  return issues.map((i) => {
    const line = state.doc.line(Math.min(Math.max(i.line, 1), state.doc.lines));
    const from = Math.min(line.from + Math.max(i.column - 1, 0), line.to);
    return { from, to: Math.max(from, line.to), severity: 'error', message: formatIssue(i) };
  });
}

export interface ScenarioEditor {
  readonly view: EditorView;
  setText(text: string): void;
  text(): string;
}

/** The editor in `parent`; `onChange` is told the text and its issues after each edit settles. */
export function createEditor(
  parent: HTMLElement,
  file: () => string,
  onChange: (text: string, issues: readonly ScenarioIssue[]) => void,
): ScenarioEditor {
  const schema = scenarioJsonSchema() as SchemaNode;
  const view = new EditorView({
    parent,
    doc: '',
    extensions: [
      basicSetup,
      yaml(),
      lintGutter(),
      linter(
        (v) => {
          const text = v.state.doc.toString();
          const issues = validate(text, file());
          onChange(text, issues);
          return diagnostics(v.state, issues);
        },
        { delay: 300 },
      ),
      autocompletion({ override: [schemaCompletion(schema)] }),
      EditorView.lineWrapping,
      EditorView.contentAttributes.of({ 'aria-label': 'scenario YAML' }),
    ],
  });
  return {
    view,
    setText: (text) =>
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } }),
    text: () => view.state.doc.toString(),
  };
}
