// Lay out BPMN files in place (adds or replaces BPMNDiagram); keeps camunda: attributes.
import { layoutProcess } from 'bpmn-auto-layout';
import { readFileSync, writeFileSync } from 'node:fs';
for (const file of process.argv.slice(2)) {
  const xml = readFileSync(file, 'utf8');
  const out = await layoutProcess(xml);
  writeFileSync(file, out);
  console.log('laid out', file);
}
