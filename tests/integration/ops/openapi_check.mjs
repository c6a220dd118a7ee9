// Checks recorded gateway replies against docs/openapi.yaml: for each line
// "METHOD PATH STATUS FILE" of the list file, the operation and the status
// must be documented, and the JSON in FILE must match the documented schema
// (Ajv; OpenAPI's `nullable` understood). Prints one line per failure and
// exits 1 if any. usage: node openapi_check.mjs docs/openapi.yaml LIST
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "../../tools/package.json"));
const SwaggerParser = require("@apidevtools/swagger-parser");
const Ajv = require("ajv");

const [specFile, listFile] = process.argv.slice(2);
const api = await SwaggerParser.dereference(specFile);
const ajv = new Ajv({ strict: false, allErrors: true });
ajv.addKeyword({ keyword: "example" });
ajv.addFormat("date-time", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
ajv.addFormat("int64", true);

// OpenAPI 3.0 `nullable: true` -> JSON Schema type unions.
function toJsonSchema(s) {
  if (Array.isArray(s)) return s.map(toJsonSchema);
  if (!s || typeof s !== "object") return s;
  const out = {};
  for (const [k, v] of Object.entries(s)) out[k] = toJsonSchema(v);
  if (out.nullable === true && typeof out.type === "string") out.type = [out.type, "null"];
  if (out.nullable === true && out.enum) out.enum = [...out.enum, null];
  delete out.nullable;
  return out;
}

function findOperation(method, urlPath) {
  const p = urlPath.split("?")[0];
  for (const [tmpl, item] of Object.entries(api.paths)) {
    const re = new RegExp("^" + tmpl.replace(/\{[^}]+\}/g, "[^/]+") + "$");
    if (re.test(p) && item[method.toLowerCase()]) return [tmpl, item[method.toLowerCase()]];
  }
  return [null, null];
}

let bad = 0, checked = 0;
for (const line of fs.readFileSync(listFile, "utf8").split("\n")) {
  if (!line.trim()) continue;
  const [method, urlPath, status, file] = line.split(" ");
  const [tmpl, op] = findOperation(method, urlPath);
  if (!op) { console.error(`${method} ${urlPath}: not documented`); bad++; continue; }
  const resp = op.responses[status] || op.responses.default;
  if (!resp) { console.error(`${method} ${tmpl}: status ${status} not documented`); bad++; continue; }
  const media = resp.content && (resp.content["application/json"] || resp.content["text/plain"]);
  if (!media || !media.schema) { checked++; continue; }
  let body;
  try { body = JSON.parse(fs.readFileSync(file, "utf8")); }
  catch (e) { console.error(`${method} ${tmpl} ${status}: reply is not JSON`); bad++; continue; }
  const validate = ajv.compile(toJsonSchema(media.schema));
  if (!validate(body)) {
    console.error(`${method} ${tmpl} ${status}: ${ajv.errorsText(validate.errors)}\n  reply: ${JSON.stringify(body).slice(0, 300)}`);
    bad++;
  }
  checked++;
}
console.log(`${checked} replies checked against ${specFile}; mismatches: ${bad}`);
process.exit(bad ? 1 : 0);
