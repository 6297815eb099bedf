// The close-code table exactly as the server renders it into the page (sandbox/terminal_protocol.py),
// so these tests check the JavaScript against the real table, not a copy of it.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const python = process.env.MUELLE_PYTHON || root + ".venv/bin/python";
const script = `
import json, django
django.setup()
from django.utils import translation
from sandbox.terminal_protocol import page_table
translation.activate("es")
print(json.dumps(page_table()))
`;

export const table = JSON.parse(
  execFileSync(python, ["-c", script], {
    cwd: root,
    env: {
      ...process.env,
      DJANGO_SETTINGS_MODULE: "tutorial.settings",
      DEBUG: process.env.DEBUG || "0",
      MUELLE_INSECURE_DEV_KEY: process.env.MUELLE_INSECURE_DEV_KEY || "1",
      HTTPS: process.env.HTTPS || "0",
    },
    encoding: "utf-8",
  }),
);
