import { type ExecutionError, StateMachine } from "aws-local-stepfunctions";

type ErrorClass = new () => Error;
let statesTimeoutErrorClass: Promise<ErrorClass> | undefined;

/**
 * A timeout error the library treats as its own. It exempts only its unexported
 * StatesTimeoutError from States.TaskFailed (as AWS exempts every timeout), so the class is
 * taken, once per process, from a throwaway task that times out after 1 ms.
 */
export async function libraryTimeoutError(name: string, message: string): Promise<Error> {
  statesTimeoutErrorClass ??= new StateMachine(
    {
      StartAt: "Time out",
      States: { "Time out": { Type: "Task", Resource: "local", TimeoutSeconds: 0.001, End: true } },
    },
    { validationOptions: { noValidate: true } },
  )
    .run(null, {
      overrides: { taskResourceLocalHandlers: { "Time out": () => new Promise(() => {}) } },
    })
    .result.then(
      () => {
        throw new Error("a task that never settles did not time out");
      },
      (error: ExecutionError) => (error.cause as Error).constructor as ErrorClass,
    );
  const error = new (await statesTimeoutErrorClass)();
  error.name = name;
  error.message = message;
  return error;
}
