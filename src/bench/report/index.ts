// report.html beside bench.json: written by `colt bench` at the end, and by `colt report DIR`.
import path from 'node:path';

import { type BenchResult, writeFileAtomic } from '../result';
import { renderReport } from './html';

export const REPORT_FILE = 'report.html';

export { renderReport, strategyColor } from './html';
export { summaryLines } from './text';
export { escapeXml, formatLatency, logTicks, renderCurvePlot, type CurvePlot, type CurveSeries } from './svg';

/** Renders and writes DIR/report.html; returns its path. */
export function writeReport(dir: string, bench: BenchResult): string {
  const file = path.join(dir, REPORT_FILE);
  writeFileAtomic(file, renderReport(bench));
  return file;
}
