import { createControlApp } from "./app.ts";

export default createControlApp();
