// What the stock benchmark needs of autocannon beyond bench/autocannon.d.ts: a request body (a POST
// of JSON). Checked against autocannon 9's lib/httpRequestBuilder.js, which sends a string body as is
// and sets its Content-Length. Merges with the declaration in bench/autocannon.d.ts.
declare module 'autocannon' {
  export interface AutocannonRequest {
    body?: string;
  }
}
