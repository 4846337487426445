// Types for the parts of Framework's standard library that the components import. Framework resolves
// "observablehq:stdlib" at build time; FileAttachment needs a literal path so that the build copies the file.
declare module "observablehq:stdlib" {
  export interface AttachedFile {
    readonly name: string;
    readonly mimeType: string;
    url(): Promise<string>;
    arrayBuffer(): Promise<ArrayBuffer>;
    json(): Promise<unknown>;
    text(): Promise<string>;
  }
  export function FileAttachment(path: string): AttachedFile;
}
