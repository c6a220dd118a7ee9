// Validates an OpenAPI document with @apidevtools/swagger-parser (schema and
// $refs) and prints its operations, one "METHOD /path" per line, path
// parameters normalised to {}. usage: node openapi_routes.mjs docs/openapi.yaml
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "../../tools/package.json"));
const SwaggerParser = require("@apidevtools/swagger-parser");

const file = process.argv[2];
try {
  const api = await SwaggerParser.validate(file);
  const methods = ["get", "post", "put", "delete", "patch", "head", "options"];
  for (const [p, item] of Object.entries(api.paths)) {
    for (const m of methods) {
      if (item[m]) console.log(`${m.toUpperCase()} ${p.replace(/\{[^}]+\}/g, "{}")}`);
    }
  }
} catch (e) {
  console.error(`openapi: ${file}: ${e.message}`);
  process.exit(1);
}
