import { SqliteQueryCompiler, ValueNode, type LimitNode, type OffsetNode, type OperationNode } from 'kysely';

/**
 * Compiles SQLite queries with integer LIMITs and OFFSETs written into the SQL text. SQLite (3.53,
 * as better-sqlite3 12 ships it) reads a bound LIMIT's value while planning, so it prepares the
 * statement again each time the value is bound, which better-sqlite3 does on every run: `limit ?`
 * cost the checkout lookup's identifier query 30 µs where `limit 20` costs 8 µs (found by
 * bench/customer-lookup.ts, issue #9). An integer in the text cannot inject anything; any other
 * value (a reused query's placeholder) stays a bound parameter.
 */
export class LiteralLimitSqliteCompiler extends SqliteQueryCompiler {
  protected override visitLimit(node: LimitNode): void {
    this.appendLiteralOrVisit('limit ', node.limit);
  }

  protected override visitOffset(node: OffsetNode): void {
    this.appendLiteralOrVisit('offset ', node.offset);
  }

  private appendLiteralOrVisit(keyword: string, value: OperationNode): void {
    this.append(keyword);
    if (ValueNode.is(value) && Number.isSafeInteger(value.value) && (value.value as number) >= 0) this.append(String(value.value));
    else this.visitNode(value);
  }
}
