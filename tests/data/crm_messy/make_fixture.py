"""How the messy CRM fixture was made (kept for provenance; the CSVs are committed).

A small SMB history from ``scenarios/smb.toml``, then what real exports do to it: report
labels instead of API names, CRM stage names of its own, three date formats in one column,
amounts with currency symbols and thousands separators, blank amounts, leads without a
created date, and deals whose stage history is missing.

    python tests/data/crm_messy/make_fixture.py
"""

from pathlib import Path

import numpy as np
import pandas as pd

import simcore
from simcore.calibrate import simulate_history

HERE = Path(__file__).parent
RENAME_STAGE = {
    "Discovery": "Qualification",
    "Trial": "Proof of Concept",
    "Negotiation": "Negotiation/Review",
}


def _mixed_dates(values, rng):
    t = pd.to_datetime(values, utc=True).dt.tz_localize(None)
    pick = rng.integers(0, 3, len(t))
    iso = t.dt.strftime("%Y-%m-%d")
    us = t.dt.month.astype(str) + "/" + t.dt.day.astype(str) + "/" + t.dt.year.astype(str)
    eu = t.dt.strftime("%d-%b-%Y")
    return np.where(pick == 0, iso, np.where(pick == 1, us, eu))


def main():
    rng = np.random.default_rng(11)
    sc = simcore.load_scenario(HERE.parents[2] / "scenarios" / "smb.toml")
    sc = sc.with_overrides(
        {
            "by.source.inbound.creation.count": 30,
            "by.source.outbound.creation.count": 12,
            "by.source.partner.creation.count": 6,
        }
    )
    h = simulate_history(sc, "2024-07-01", "2026-01-01", seed=21)
    o = h.opportunities.copy()
    o["StageName"] = o["StageName"].replace(RENAME_STAGE)
    amount = o["Amount"].map(lambda x: f"${x:,.2f}").to_numpy()
    amount[rng.random(len(o)) < 0.05] = ""
    out = pd.DataFrame(
        {
            "Opportunity ID": o["Id"],
            "Created Date": _mixed_dates(o["CreatedDate"], rng),
            "Stage": o["StageName"],
            "Amount": amount,
            "Close Date": np.where(
                o["CloseDate"] == "", "", _mixed_dates(o["CloseDate"].replace("", "2000-01-01"), rng)
            ),
            "Lead Source": o["LeadSource"],
            "Product": o["Product__c"],
            "Loss Reason": o["Loss_Reason__c"].replace(
                {"Competition": "Lost to competitor", "No Decision": "No decision / status quo"}
            ),
            "Forecast Category": o["ForecastCategoryName"],
        }
    )
    leads = pd.DataFrame({c: [""] * 3 for c in out.columns})
    leads["Opportunity ID"] = ["00Q000000000000001", "00Q000000000000002", "00Q000000000000003"]
    leads["Stage"] = "Qualification"
    leads["Lead Source"] = "inbound"
    leads["Product"] = "Starter"
    out = pd.concat([out, leads], ignore_index=True)
    out.to_csv(HERE / "opportunities.csv", index=False)
    hist = h.stage_history.copy()
    hist["StageName"] = hist["StageName"].replace(RENAME_STAGE)
    drop = set(o["Id"].sample(frac=0.08, random_state=3))
    hist = hist[~hist["OpportunityId"].isin(drop)]
    pd.DataFrame(
        {
            "Opportunity ID": hist["OpportunityId"],
            "Last Modified": hist["CreatedDate"],
            "To Stage": hist["StageName"],
            "Amount": hist["Amount"],
            "Close Date": hist["CloseDate"],
        }
    ).to_csv(HERE / "stage_history.csv", index=False)
    (HERE / "stages.txt").write_text(
        "# CRM stage = scenario stage : forecast category\n"
        "Qualification = Discovery : pipeline\n"
        "Proof of Concept = Trial : best_case\n"
        "Negotiation/Review = Negotiation : commit\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
