// Emits the published declarations (dist/*.d.ts) with Anvil's router spelled out in them.
//
// `AppRouter` is `typeof appRouter`: its declaration carries the server's context type (the job service, the store,
// and through them drizzle, effect, xstate and postgres), so bundling it with a d.ts bundler pulls in half the
// workspace and its dependencies (rollup-plugin-dts ran out of a 4 GB heap after 11 minutes on it). A client needs
// only each procedure's kind, input and output. So this script asks the TypeScript checker for exactly those,
// prints them as plain types (named workspace types become local aliases), and emits the client's declarations with
// that text in place of src/router.ts. Nothing is written by hand: the printed types are the router's own.
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const workspace = resolve(root, "../..");
const routerFile = join(root, "src/router.ts");
const outDir = join(root, "dist");

const host = ts.createCompilerHost({});
const fail = (diagnostics) => {
  console.error(ts.formatDiagnosticsWithColorAndContext([diagnostics].flat(), host));
  process.exit(1);
};
const config = ts.getParsedCommandLineOfConfigFile(
  join(root, "tsconfig.json"),
  {},
  { ...ts.sys, onUnRecoverableConfigFileDiagnostic: fail },
);

// 1. The router's record, read from the server's sources.
const program = ts.createProgram([routerFile], { ...config.options, noEmit: true });
const checker = program.getTypeChecker();
const source = program.getSourceFile(routerFile);
const serverRouter = source.statements.find((s) => ts.isTypeAliasDeclaration(s) && s.name.text === "ServerRouter");
if (!serverRouter) throw new Error("src/router.ts must declare `type ServerRouter`");
const routerType = checker.getTypeAtLocation(serverRouter.name);

const named = new Map(); // symbol -> { name, text }
const takenNames = new Set();
const prop = (type, name) => {
  const symbol = type.getProperty(name);
  return symbol && checker.getTypeOfSymbol(symbol);
};
const isWorkspaceDeclared = (symbol) =>
  symbol?.declarations?.some((d) => {
    const file = d.getSourceFile().fileName;
    return file.startsWith(workspace) && !file.includes("/node_modules/");
  });
const quote = (key) => (/^[A-Za-z_$][\w$]*$/.test(key) ? key : JSON.stringify(key));

function print(type, depth = 0) {
  if (depth > 40) throw new Error(`type too deep: ${checker.typeToString(type)}`);
  const alias = type.aliasSymbol;
  if (alias?.name === "TrackedEnvelope") return `TrackedEnvelope<${print(type.aliasTypeArguments[0], depth + 1)}>`;
  const symbol = alias ?? type.getSymbol();
  const nameable =
    isWorkspaceDeclared(symbol) &&
    !(alias ? type.aliasTypeArguments?.length : type.typeArguments?.length) &&
    (alias || symbol.flags & (ts.SymbolFlags.Interface | ts.SymbolFlags.TypeAlias));
  if (nameable) return nameOf(symbol, type, depth);
  return structure(type, depth);
}

function nameOf(symbol, type, depth) {
  const known = named.get(symbol);
  if (known) return known.name;
  let name = symbol.name;
  for (let i = 2; takenNames.has(name); i++) name = `${symbol.name}${i}`;
  takenNames.add(name);
  const entry = { name, text: "" };
  named.set(symbol, entry);
  entry.text = structure(type, depth + 1);
  return name;
}

function structure(type, depth) {
  const f = type.flags;
  if (f & ts.TypeFlags.Any) return "any";
  if (f & ts.TypeFlags.Unknown) return "unknown";
  if (f & ts.TypeFlags.Never) return "never";
  if (f & ts.TypeFlags.Void) return "void";
  if (f & ts.TypeFlags.Undefined) return "undefined";
  if (f & ts.TypeFlags.Null) return "null";
  if (f & ts.TypeFlags.String) return "string";
  if (f & ts.TypeFlags.Number) return "number";
  if (f & ts.TypeFlags.Boolean) return "boolean";
  if (f & ts.TypeFlags.BigInt) return "bigint";
  if (f & (ts.TypeFlags.StringLiteral | ts.TypeFlags.NumberLiteral | ts.TypeFlags.BooleanLiteral)) {
    return checker.typeToString(type);
  }
  if (type.isUnion()) {
    // `true | false` is how the checker holds `boolean`.
    const parts = type.types.map((t) => print(t, depth + 1));
    const hasTrue = parts.includes("true");
    const hasFalse = parts.includes("false");
    const rest = parts.filter((p) => !(hasTrue && hasFalse && (p === "true" || p === "false")));
    if (hasTrue && hasFalse) rest.push("boolean");
    return [...new Set(rest)].map((p) => (p.includes("=>") ? `(${p})` : p)).join(" | ");
  }
  if (type.isIntersection() && type.types.every((t) => t.flags & ts.TypeFlags.Object)) return object(type, depth);
  if (type.isIntersection()) return type.types.map((t) => wrap(print(t, depth + 1))).join(" & ");
  if (checker.isTupleType(type)) {
    return `[${checker
      .getTypeArguments(type)
      .map((t) => print(t, depth + 1))
      .join(", ")}]`;
  }
  if (checker.isArrayType(type)) {
    const [element] = checker.getTypeArguments(type);
    const readonly = type.getSymbol()?.name === "ReadonlyArray" ? "readonly " : "";
    return `${readonly}${wrap(print(element, depth + 1))}[]`;
  }
  const generic = type.getSymbol()?.name;
  if (generic === "AsyncGenerator" || generic === "AsyncIterable" || generic === "Promise") {
    const args = checker.getTypeArguments(type).map((t) => print(t, depth + 1));
    return `${generic}<${args.join(", ")}>`;
  }
  if (f & ts.TypeFlags.Object) return object(type, depth);
  throw new Error(`cannot print ${checker.typeToString(type)}`);
}

const wrap = (text) => (/[|&]/.test(text) && !text.startsWith("{") ? `(${text})` : text);

function object(type, depth) {
  if (type.getCallSignatures().length) throw new Error(`a function in the API's types: ${checker.typeToString(type)}`);
  const members = [];
  for (const index of checker.getIndexInfosOfType(type)) {
    members.push(`[key: ${print(index.keyType, depth + 1)}]: ${print(index.type, depth + 1)}`);
  }
  for (const symbol of checker.getPropertiesOfType(type)) {
    const optional = symbol.flags & ts.SymbolFlags.Optional ? "?" : "";
    const readonly = ts.getCheckFlags?.(symbol) & ts.CheckFlags?.Readonly ? "readonly " : "";
    let valueType = checker.getTypeOfSymbol(symbol);
    // An optional property's type includes `undefined` already; printing it again is noise, not harm.
    members.push(`${readonly}${quote(symbol.name)}${optional}: ${print(valueType, depth + 1)}`);
  }
  return members.length ? `{ ${members.join("; ")} }` : "{}";
}

const KINDS = {
  query: "TRPCQueryProcedure",
  mutation: "TRPCMutationProcedure",
  subscription: "TRPCSubscriptionProcedure",
};

function record(type, depth = 0) {
  const entries = checker.getPropertiesOfType(type).map((symbol) => {
    const value = checker.getTypeOfSymbol(symbol);
    const def = prop(value, "_def");
    const kind = def && prop(def, "type");
    if (!kind) return `${quote(symbol.name)}: ${record(value, depth + 1)}`;
    const types = prop(def, "$types");
    const input = print(prop(types, "input"));
    const output = print(prop(types, "output"));
    const k = kind.value;
    return `${quote(symbol.name)}: ${KINDS[k]}<{ input: ${input}; output: ${output}; meta: object }>`;
  });
  return `{\n${"  ".repeat(depth + 1)}${entries.join(`;\n${"  ".repeat(depth + 1)}`)};\n${"  ".repeat(depth)}}`;
}

const rootDef = prop(routerType, "_def");
const recordText = record(prop(rootDef, "record"));
const errorShape = print(prop(prop(prop(rootDef, "_config"), "$types"), "errorShape"));
const aliases = [...named.values()].map(
  ({ name, text }) => `/** As the server defines it. */\nexport type ${name} = ${text};`,
);

const routerDeclarations = `// Generated by scripts/build-declarations.mjs from the server's router: every procedure's kind, input and output.
import type { TRPCBuiltRouter, TRPCMutationProcedure, TRPCQueryProcedure, TRPCSubscriptionProcedure, TrackedEnvelope } from "@trpc/server";

${aliases.join("\n\n")}

/** Every procedure of Anvil's API. */
export type AnvilRecord = ${recordText};

/** Anvil's router as a client sees it (no data transformer: plain JSON). */
export type AnvilRouter = TRPCBuiltRouter<{ ctx: object; meta: object; errorShape: ${errorShape}; transformer: false }, AnvilRecord>;
`;

// 2. The client's own declarations, with the printed router in place of src/router.ts.
const rootNames = config.fileNames.filter((f) => !/\.test\.ts$|\.config\.ts$|\/testing\//.test(f));
const emitOptions = {
  ...config.options,
  noEmit: false,
  declaration: true,
  emitDeclarationOnly: true,
  rootDir: join(root, "src"),
  outDir,
};
const readFile = host.readFile;
host.readFile = (file) => (resolve(file) === routerFile ? routerDeclarations : readFile(file));
const getSourceFile = host.getSourceFile;
host.getSourceFile = (file, language, onError, fresh) =>
  resolve(file) === routerFile
    ? ts.createSourceFile(file, routerDeclarations, language, true)
    : getSourceFile(file, language, onError, fresh);
mkdirSync(outDir, { recursive: true });
const emitProgram = ts.createProgram(rootNames, emitOptions, host);
const diagnostics = ts.getPreEmitDiagnostics(emitProgram);
if (diagnostics.length) fail(diagnostics);
// Node's ESM resolution (a consumer on "moduleResolution": "nodenext") needs the extension in relative imports.
const withExtensions = (text) => text.replace(/(from\s+["'])(\.{1,2}\/[^"']+?)(?<!\.js)(["'])/g, "$1$2.js$3");
const result = emitProgram.emit(undefined, (file, text, bom) => ts.sys.writeFile(file, withExtensions(text), bom));
if (result.diagnostics.length) fail(result.diagnostics);
console.log(`declarations: ${named.size} named types, router in dist/router.d.ts`);
