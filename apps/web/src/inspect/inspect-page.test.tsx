import { render, screen } from "@solidjs/testing-library";
import { describe, expect, it } from "vitest";
import { InspectionOff } from "./inspect-page";

describe("<InspectionOff>", () => {
  it("says that inspection is off and how to turn it on", () => {
    render(() => <InspectionOff />);
    const notice = screen.getByRole("alert");
    expect(notice).toHaveAccessibleName("Inspection is off on this server");
    expect(notice).toHaveTextContent("Start the server with ANVIL_INSPECT=1");
    expect(notice).toHaveTextContent("inspection is on unless NODE_ENV=production");
  });
});
