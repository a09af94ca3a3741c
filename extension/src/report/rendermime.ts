/**
 * The rendermime registry the report renders audited outputs with.
 *
 * Stored and re-run outputs come from the audited repository and its code: they
 * are rendered untrusted (sanitised HTML, no scripts), and, unlike JupyterLab's
 * default sanitiser, without command-linker attributes: a button carrying
 * `data-commandlinker-command` would run any JupyterLab command when clicked.
 */
import { Sanitizer } from '@jupyterlab/apputils';
import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';

export function safeRendermime(rendermime: IRenderMimeRegistry): IRenderMimeRegistry {
  const sanitizer = new Sanitizer();
  sanitizer.setAllowCommandLinker(false);
  return rendermime.clone({ sanitizer });
}
