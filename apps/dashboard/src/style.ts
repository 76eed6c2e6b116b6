/** The one stylesheet, served from /style.css with a long cache: mobile-first, no framework. */
export const stylesheet = `
*{box-sizing:border-box}
html{font-size:16px;-webkit-text-size-adjust:100%}
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;line-height:1.45;color:#1a1a1a;background:#f6f7f9}
a{color:#0b57d0}
a:focus-visible,button:focus-visible,input:focus-visible,textarea:focus-visible,select:focus-visible,summary:focus-visible{outline:3px solid #f29900;outline-offset:2px}
header{background:#0f5132;color:#fff;padding:.5rem .75rem}
header a{color:#fff}
header .top{display:flex;justify-content:space-between;align-items:center;gap:.5rem;flex-wrap:wrap}
header strong{font-size:1.05rem}
nav ul{list-style:none;margin:.4rem 0 0;padding:0;display:flex;flex-wrap:wrap;gap:.25rem .9rem}
nav a{text-decoration:none;padding:.35rem 0;display:inline-block}
nav a[aria-current=page]{text-decoration:underline;font-weight:600}
main{padding:.75rem;max-width:60rem;margin:0 auto}
h1{font-size:1.35rem;margin:.25rem 0 .75rem}
h2{font-size:1.1rem;margin:1.25rem 0 .5rem}
.card{background:#fff;border:1px solid #d9dce1;border-radius:8px;padding:.75rem;margin:0 0 .75rem}
label{display:block;font-weight:600;margin:.6rem 0 .2rem}
input[type=text],input[type=email],input[type=password],input[type=search],input[type=date],input[type=tel],input[type=url],input[type=number],textarea,select{width:100%;font:inherit;padding:.55rem;border:1px solid #8a9099;border-radius:6px;background:#fff;color:inherit}
textarea{min-height:6rem}
button,.button{font:inherit;padding:.55rem 1rem;border-radius:6px;border:1px solid #0f5132;background:#0f5132;color:#fff;cursor:pointer;min-height:44px;text-decoration:none;display:inline-block}
button.secondary{background:#fff;color:#0f5132}
button.danger{background:#b3261e;border-color:#b3261e}
.row{display:flex;gap:.5rem;flex-wrap:wrap;align-items:center}
.inline{display:inline}
.muted{color:#555}
.flash{padding:.6rem .75rem;border-radius:6px;margin:0 0 .75rem}
.flash.ok{background:#e6f4ea;border:1px solid #8bc59a}
.flash.err{background:#fce8e6;border:1px solid #e2a19b}
.flash.warn{background:#fff3cd;border:1px solid #e0c36b}
.badge{display:inline-block;padding:0 .45rem;border-radius:999px;font-size:.8rem;background:#e8eaed}
.badge.on{background:#e6f4ea;color:#0f5132}.badge.off{background:#fce8e6;color:#8c1d18}
.badge.human{background:#fff3cd;color:#6b4e00}.badge.unread{background:#0b57d0;color:#fff}
table{width:100%;border-collapse:collapse;background:#fff;font-size:.92rem}
th,td{text-align:left;padding:.4rem;border-bottom:1px solid #e3e5e8;vertical-align:top}
.table-wrap{overflow-x:auto}
ul.list{list-style:none;padding:0;margin:0}
ul.list li{background:#fff;border:1px solid #d9dce1;border-radius:8px;padding:.6rem .75rem;margin:0 0 .5rem}
.msg{max-width:85%;padding:.45rem .65rem;border-radius:8px;margin:.3rem 0;white-space:pre-wrap;word-wrap:break-word}
.msg.inbound{background:#fff;border:1px solid #d9dce1}
.msg.outbound{background:#dcf8c6;margin-left:auto}
.msg small{display:block;color:#555;font-size:.75rem}
.thread{display:flex;flex-direction:column}
.sr-only{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
svg{max-width:100%;height:auto}
fieldset{border:1px solid #d9dce1;border-radius:6px;margin:.75rem 0;padding:.25rem .75rem .75rem}
legend{font-weight:600}
@media (min-width:48rem){main{padding:1.25rem}h1{font-size:1.6rem}}
`;
