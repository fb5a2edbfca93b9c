// One key syntax for every backend, so an artifact key that works on the filesystem works on S3 and
// back: ASCII letters, digits, ".", "_", "-" and "/" separators; no empty, "." or ".." segment
// (those would escape the root directory or alias another key).
const KEY_CHARACTERS = /^[A-Za-z0-9._/-]+$/;

export function isValidKey(key: string): boolean {
  return KEY_CHARACTERS.test(key) && key.split("/").every((part) => part !== "" && part !== "." && part !== "..");
}

export function assertValidKey(key: string): void {
  if (!isValidKey(key)) throw new Error(`invalid storage key "${key}"`);
}
