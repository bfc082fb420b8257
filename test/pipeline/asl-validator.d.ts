/** asl-validator ships no types: the one function the template tests call. */
declare module 'asl-validator' {
  interface Result {
    readonly isValid: boolean;
    readonly errors: readonly unknown[];
  }
  export default function validator(
    definition: object,
    options?: { checkPaths?: boolean; checkArn?: boolean },
  ): Result;
}
