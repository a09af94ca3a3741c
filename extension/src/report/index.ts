/**
 * The report view of a check: one widget per module in this folder.
 */
export { ReportWidget } from './widget';
