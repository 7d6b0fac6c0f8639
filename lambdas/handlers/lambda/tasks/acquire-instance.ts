import { WORKFLOW_TASKS } from "../../workflow/tasks.ts";
import { taskHandler } from "../task-handler.ts";

/** `${AcquireInstanceFunction}` in statemachines/*.asl.json. */
export const handler = await taskHandler(WORKFLOW_TASKS.AcquireInstanceFunction);
