import type { Child } from 'hono/jsx';

/** Calm, long-form reading: one column, generous line height, no scripts. */
const css = `
  body { font: 18px/1.65 Georgia, 'Iowan Old Style', serif; color: #222; background: #fbfaf7; margin: 0; }
  main { max-width: 46rem; margin: 0 auto; padding: 3rem 1.5rem 5rem; }
  h1, h2, h3 { font-family: system-ui, sans-serif; line-height: 1.25; }
  .plans { display: grid; grid-template-columns: repeat(auto-fit, minmax(10rem, 1fr)); gap: 1rem; margin: 2rem 0; }
  .plan { background: #fff; border: 1px solid #e4e0d8; border-radius: 10px; padding: 1rem 1.2rem; }
  .price { font: 600 1.4rem system-ui, sans-serif; }
  .muted { color: #6b6558; font-size: .9rem; }
  table { border-collapse: collapse; width: 100%; } td, th { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #e4e0d8; }
`;

export function Page(props: { title: string; children: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{props.title}</title>
        <style>{css}</style>
      </head>
      <body>
        <main>{props.children}</main>
      </body>
    </html>
  );
}
