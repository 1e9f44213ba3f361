import { render } from "solid-js/web";
import { App } from "./app";
import { pruneDueMemory } from "./lib/due-memory";
import "./styles.css";

const root = document.getElementById("root");
if (!root) throw new Error("index.html has no #root element");
// What the browser kept of estimates long due, of jobs no page of it will ask about again.
pruneDueMemory(Date.now());
render(() => <App />, root);
