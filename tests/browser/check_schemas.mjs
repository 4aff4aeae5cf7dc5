// Compiles every exported JSON Schema with strict Ajv (draft 2020-12, ajv-formats), the
// keywords of our own declared from the published vocabulary meta-schema, and validates bodies.
// Usage: node check_schemas.mjs <schema directory> < {"cases": [{"schema": name, "body": ...}]}
// Prints {"compiled": [names], "undeclared": error, "verdicts": [{"valid", "error"}]}.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import Ajv2020Module from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";

const Ajv2020 = Ajv2020Module.default ?? Ajv2020Module;
const addFormats = addFormatsModule.default ?? addFormatsModule;
const VOCABULARY = "custody-gateway-vocabulary.json";

const directory = process.argv[2];
const read = (name) => JSON.parse(readFileSync(join(directory, name), "utf8"));
const names = readdirSync(directory).filter((name) => name.endsWith(".json") && name !== VOCABULARY);
const meta = read(VOCABULARY);

function strictAjv() {
  const ajv = new Ajv2020({ strict: true, allErrors: false });
  addFormats(ajv);
  return ajv;
}

// Without the declaration, strict Ajv refuses our keywords.
let undeclared = null;
try {
  strictAjv().compile(read(names.find((name) => name.startsWith("custody."))));
} catch (error) {
  undeclared = error.message;
}

const ajv = strictAjv();
ajv.addMetaSchema(meta);
ajv.addVocabulary(Object.keys(meta.properties));
const validators = {};
for (const name of names.sort()) {
  const schema = read(name);
  if (!ajv.validate(meta.$id, schema)) {
    throw new Error(`${name} is not a schema of the vocabulary: ${ajv.errorsText()}`);
  }
  validators[name] = ajv.compile(schema);
}

const { cases } = JSON.parse(readFileSync(0, "utf8"));
const verdicts = cases.map(({ schema, body }) => {
  const validate = validators[schema];
  const valid = validate(body);
  return { valid, error: valid ? null : ajv.errorsText(validate.errors) };
});
process.stdout.write(JSON.stringify({ compiled: Object.keys(validators), undeclared, verdicts }));
