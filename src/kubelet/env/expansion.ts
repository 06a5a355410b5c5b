// `$(VAR)` expansion as the kubelet does it for env values, command, args and subPathExpr
// (https://kubernetes.io/docs/tasks/inject-data-application/define-interdependent-environment-variables/):
// `$(VAR)` becomes VAR's value when VAR is known and stays as written otherwise; `$$` is an
// escaped `$`; any other `$` is kept.

export type Mapping = (name: string) => string | undefined;

/** A mapping over the given maps, first match wins. */
export function mappingFor(...maps: ReadonlyMap<string, string>[]): Mapping {
  return (name) => {
    for (const m of maps) {
      const v = m.get(name);
      if (v !== undefined) return v;
    }
    return undefined;
  };
}

export function expand(input: string, mapping: Mapping): string {
  let out = '';
  let checkpoint = 0;
  for (let i = 0; i < input.length; i++) {
    if (input[i] !== '$' || i + 1 >= input.length) continue;
    out += input.slice(checkpoint, i);
    const next = input[i + 1];
    if (next === '$') {
      out += '$';
      i += 1;
    } else if (next === '(') {
      const close = input.indexOf(')', i + 2);
      if (close < 0) {
        // An unterminated reference is literal text.
        out += '$(';
        i += 1;
      } else {
        const name = input.slice(i + 2, close);
        out += mapping(name) ?? `$(${name})`;
        i = close;
      }
    } else {
      out += '$' + next;
      i += 1;
    }
    checkpoint = i + 1;
  }
  return out + input.slice(checkpoint);
}
