// Assets bundled by the JupyterLab builder: SVG files as strings, CSS injected.
declare module '*.svg' {
  const value: string;
  export default value;
}

declare module '*.css';
