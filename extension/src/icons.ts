import { LabIcon } from '@jupyterlab/ui-components';

import nbreproSvg from '../style/icons/nbrepro.svg';

/** The nbrepro icon: a circular "re-run" arrow around a check mark. */
export const nbreproIcon = new LabIcon({
  name: 'jupyter-nbrepro:check',
  svgstr: nbreproSvg
});
