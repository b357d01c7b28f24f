// The three kinds of failure irqlab tells apart (STYLE §6):
//  - a hardware fault is an outcome carried as data (e.g. a VT-d fault reason), never thrown;
//  - bad input or an impossible combination is an `InputError` / `RuleError`, thrown with where it
//    was found and, for a rule, the rule's name; the CLI turns both into exit code 2;
//  - a broken invariant is an irqlab bug: `assert` throws an `InvariantError`.

export class IrqlabError extends Error {
  override name = 'IrqlabError';
}

/** Bad input: a value that does not parse, does not fit its field, or points outside its range. */
export class InputError extends IrqlabError {
  override name = 'InputError';
  constructor(
    readonly where: string,
    readonly problem: string,
    opts?: ErrorOptions,
  ) {
    super(where ? `${where}: ${problem}` : problem, opts);
  }
}

/** An impossible combination, named by the rule it breaks. */
export class RuleError extends IrqlabError {
  override name = 'RuleError';
  constructor(
    readonly rule: string,
    readonly where: string,
    readonly problem: string,
    opts?: ErrorOptions,
  ) {
    super(`${where ? `${where}: ` : ''}${problem} [rule: ${rule}]`, opts);
  }
}

/** An irqlab bug: an invariant of the model does not hold. */
export class InvariantError extends IrqlabError {
  override name = 'InvariantError';
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new InvariantError(message);
}
