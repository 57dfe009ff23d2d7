// A field engineer's whole day through the generated Kotlin bindings, on the JVM, against a
// real Onsite server this test starts and stops (to go offline). `cargo xtask kotlin-test`
// compiles it together with the bindings and runs it.
//
// Env: ONSITE_SERVER_BIN, ONSITE_CTL_BIN (the server and console binaries).

import dev.onsite.sdk.*
import java.io.File
import java.net.ServerSocket
import java.nio.file.Files
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.TimeUnit

var failures = 0
var passes = 0

fun check(name: String, ok: Boolean) {
    if (ok) passes++ else failures++
    println((if (ok) "PASS " else "FAIL ") + name)
}

inline fun <reified E : Throwable> expectThrows(name: String, block: () -> Unit): E? {
    try {
        block()
    } catch (e: Throwable) {
        check(name, e is E)
        return e as? E
    }
    check(name, false)
    return null
}

/** The server under test: started with the demo data, stopped to go offline. */
class Server(private val bin: String, private val dataDir: File) {
    val port = ServerSocket(0).use { it.localPort }
    /** The CA of the server's certificate when it serves TLS (from ONSITE_TLS_CERT/KEY). */
    val caPem: String? = System.getenv("ONSITE_CA_CERT")?.let { File(it).readText() }
    val url = if (caPem != null) "https://localhost:$port" else "http://127.0.0.1:$port"
    var dispatcherToken = ""
    val engineerTokens = mutableListOf<Pair<String, String>>() // employee number, token
    private var process: Process? = null

    fun start() {
        val p = ProcessBuilder(bin, "--demo", "--listen", "127.0.0.1:$port", "--data-dir", dataDir.path)
            .redirectErrorStream(true)
            .apply { environment()["ONSITE_LOG"] = "warn" }
            .start()
        process = p
        val lines = p.inputStream.bufferedReader()
        while (true) {
            val line = lines.readLine() ?: error("the server exited before it was ready")
            val text = line.trim()
            if (text.startsWith("dispatcher token: ")) dispatcherToken = text.removePrefix("dispatcher token: ")
            if (text.startsWith("engineer No. ")) {
                engineerTokens += text.removePrefix("engineer No. ").substringBefore(" ") to text.substringAfterLast("token: ")
            }
            if (line.startsWith("Ready:")) break
        }
        // Keep reading so the server never blocks on a full pipe.
        Thread { runCatching { lines.forEachLine { } } }.apply { isDaemon = true }.start()
    }

    fun stop() {
        process?.destroy() // SIGTERM: a graceful shutdown
        process?.waitFor(30, TimeUnit.SECONDS)
        process = null
    }
}

/** The console, for what only the desk can do and to read the server's side. */
fun ctl(server: Server, vararg args: String): String {
    val p = ProcessBuilder(System.getenv("ONSITE_CTL_BIN"), "--server", server.url, "--json", *args)
        .apply { environment()["ONSITE_TOKEN"] = server.dispatcherToken }
        .redirectErrorStream(true)
        .start()
    val out = p.inputStream.bufferedReader().readText()
    val ok = p.waitFor() == 0
    check("onsitectl ${args.first()} ran", ok)
    if (!ok) println(out)
    return out
}

class Recorder : SyncObserver {
    val states = CopyOnWriteArrayList<SyncState>()
    override fun onSyncState(state: SyncState) {
        states += state
    }
}

fun signature(): List<Stroke> = listOf(
    Stroke(listOf(StrokePoint(20f, 60f, 0u, 0.4f), StrokePoint(140f, 20f, 200u, 0.8f), StrokePoint(260f, 90f, 420u, 0.6f))),
    Stroke(listOf(StrokePoint(280f, 40f, 700u, 0.5f), StrokePoint(340f, 45f, 800u, 0.5f))),
)

fun main() {
    val dataDir = Files.createTempDirectory("onsite-kotlin-server").toFile()
    val phoneDir = Files.createTempDirectory("onsite-kotlin-phone").toFile()
    val server = Server(System.getenv("ONSITE_SERVER_BIN"), dataDir)
    server.start()
    try {
        day(server, phoneDir)
    } finally {
        server.stop()
        dataDir.deleteRecursively()
        phoneDir.deleteRecursively()
    }
    println("kotlin: $passes passed, $failures failed")
    if (failures > 0) kotlin.system.exitProcess(1)
}

fun day(server: Server, phoneDir: File) {
    val (number, token) = server.engineerTokens.first()
    // The store is encrypted with a key the app would keep in the Android Keystore.
    val storeKey = ByteArray(32) { (it * 7 + 3).toByte() }
    fun config(key: ByteArray?) = SessionConfig(
        phoneDir.path, "JVM test phone of engineer $number", null, false,
        caCertificatePem = server.caPem, storeKey = key,
    )
    val session = EngineerSession.open(config(storeKey))
    val recorder = Recorder()
    session.setObserver(recorder)

    // Before sign-in nothing works, and says why.
    expectThrows<OnsiteException.NotSignedIn>("actions need a signed-in engineer") { session.sync() }

    val first = session.signIn(server.url, token)
    check("sign-in pulled slips, customers and the catalog", first.pulledChanges >= 3uL)
    check("the parts catalog is on the phone", session.partsCatalog().any { it.partNumber == "SSD-1T" })
    val slip = session.slips().first { it.state == SlipState.DISPATCHED }
    check("the dispatched slip names its customer and site", slip.customerName.isNotEmpty() && slip.siteAddress.isNotEmpty())

    // A second slip the desk will take away while the engineer is offline.
    val other = Regex("\\{[^{}]*\\}").findAll(ctl(server, "slips")).map { it.value }
        .firstOrNull { it.contains("\"state\":\"verified\"") }
        ?.let { Regex("\"slip\":\"([0-9a-f-]{36})\"").find(it)?.groupValues?.get(1) }
    check("the demo has a verified slip to hand out", other != null)
    ctl(server, "assign", other!!, number)
    session.sync()
    check("the second slip arrived", session.slips().any { it.id == other })

    // Offline from here: the server is stopped.
    server.stop()
    val id = slip.id
    val now = System.currentTimeMillis()
    session.confirm(id)
    session.confirm(other)
    session.book(id, now + 3_600_000, now + 7_200_000, "Mr. Chen")
    session.startTravel(id)
    val arrived = session.checkIn(id, 31.2304, 121.4737)
    check("checked in offline", arrived.summary.state == SlipState.ON_SITE)
    // A 16 x 16 JPEG's header (start of image, start of frame) and some bytes.
    val jpegHeader = intArrayOf(0xff, 0xd8, 0xff, 0xc0, 0x00, 0x0b, 0x08, 0x00, 0x10, 0x00, 0x10, 0x01, 0x01, 0x11, 0x00)
    val photo = ByteArray(jpegHeader.size) { jpegHeader[it].toByte() } + ByteArray(4000) { (it % 251).toByte() }
    val vague = expectThrows<OnsiteException.Invalid>("a backup says what was saved") {
        session.logBackup(id, BackupInput("", "USB disk SN 4471", 52_000_000_000L, "the engineer", true, ""), emptyList())
    }
    check("the field is backup.contents", vague?.field == "backup.contents")
    val backedUp = session.logBackup(id, BackupInput("print queue and job history", "USB disk SN 4471", 52_000_000_000L, "the engineer", true, "full image"), listOf(photo))
    check("the backup keeps its size and check", backedUp.backups.single().sizeBytes == 52_000_000_000L && backedUp.backups.single().verified)
    val undiagnosed = expectThrows<OnsiteException.Refused>("in warranty, parts wait for the root cause") {
        session.addPartsCost(id, listOf(CostLine(CostKind.PART, "Print head PH-3", "PH-3", 1, 12_900L, "CNY", false)))
    }
    check("with the reason ROOT_CAUSE_REQUIRED", undiagnosed?.reason == "ROOT_CAUSE_REQUIRED")
    val fix = FixInput(FixOutcome.RESOLVED, RootCause.MATERIAL_DEFECT, "Worn print head", "Replaced the print head", "Clean monthly", 45)
    val custody = CustodyInput("the controller's log card, for analysis at the lab", "Mr. Chen")
    val fixed = session.recordFixTakingData(id, fix, emptyList(), custody, SignatureDrawing(signature(), 440u, 170u))
    check("the custody authorisation is on the fix", fixed.fix?.custodyScope == custody.scope)
    check("a defect of material in warranty is free", fixed.cover == Cover.FREE && fixed.warrantyLastDay != null)
    val costed = session.addPartsCost(id, listOf(
        CostLine(CostKind.PART, "Print head PH-3", "PH-3", 1, 12_900L, "CNY", false),
        CostLine(CostKind.TRAVEL, "Taxi", "", 1, 8_650L, "CNY", true),
    ))
    check("the phone decides no line is billable, whatever was typed", costed.costLines.none { it.billable })
    // The customer also wants a spare head, which the warranty does not cover: a quote, signed here.
    val quoted = session.draftQuote(id, listOf(CostLine(CostKind.PART, "Spare print head PH-3", "PH-3", 1, 12_900L, "CNY", true)))
    val quote = quoted.quotes.last()
    check("the quote totals exactly", quote.totalMinor == 12_900L && quote.currency == "CNY" && !quote.accepted)
    val decided = session.decideQuote(id, quote.id, QuoteDecisionInput(true, "Mr. Chen"), signature(), 420u, 160u)
    check("the customer accepted it on the phone", decided.quotes.any { it.id == quote.id && it.accepted && it.decidedBy == "Mr. Chen" })
    val signed = session.captureSignOff(id, SignerInput("Mr. Chen", Satisfaction.VERY_SATISFIED, 5, 4, 5, "Quick and tidy"), signature(), 400u, 150u)
    check("sign-off captured offline, not yet verified", signed.signOff?.verified == false)
    val done = session.complete(id)
    check("completed on the phone", done.summary.state == SlipState.COMPLETED)
    check("twelve changes wait", session.pendingChanges().size == 12)

    // Errors arrive typed.
    val refused = expectThrows<OnsiteException.Refused>("an illegal action is refused locally") { session.confirm(id) }
    check("with the state machine's reason", refused?.reason == "INVALID_TRANSITION")
    val invalid = expectThrows<OnsiteException.Invalid>("bad input names the field") { session.decline(other, " ") }
    check("the field is reason", invalid?.field == "reason")
    // The phone refuses offline what the server would refuse later, with the server's field.
    val nineDays = expectThrows<OnsiteException.Invalid>("nine days of labour are refused offline") {
        session.recordFix(other, FixInput(FixOutcome.RESOLVED, RootCause.UNKNOWN, "", "Reseated", "", 9 * 24 * 60), emptyList())
    }
    check("the field is fix.time_spent_minutes", nineDays?.field == "fix.time_spent_minutes")
    val unknownKind = expectThrows<OnsiteException.Invalid>("a cost kind this app does not know is refused") {
        session.addPartsCost(other, listOf(CostLine(CostKind.UNKNOWN, "Fan", "", 1, 500L, "CNY", false)))
    }
    check("the field is lines[0].kind", unknownKind?.field == "lines[0].kind")
    expectThrows<OnsiteException.Offline>("sync without a server says offline") { session.sync() }
    expectThrows<OnsiteException.UnsyncedChanges>("sign-out keeps unsynced work") { session.signOut(false) }

    // The desk moves the second slip away while the phone is offline.
    server.start()
    val colleague = Regex("\\{[^{}]*\\}").findAll(ctl(server, "engineers")).map { it.value }
        .filter { it.contains("\"status\":\"available\"") }
        .mapNotNull { Regex("\"no\":\"(\\d+)\"").find(it)?.groupValues?.get(1) }
        .first { it != number }
    ctl(server, "assign", other, colleague)

    // Back online.
    val report = session.sync()
    check("eleven changes settled, one refused", report.settled == 11uL && report.refused == 1uL)
    check("four attachments uploaded: the photo and three signatures", report.uploadedAttachments == 4uL)
    val attention = session.needsAttention()
    check("the refused confirm needs attention", attention.size == 1 && attention[0].reason == "SLIP_REASSIGNED")
    check("the reassigned slip left the phone", session.slips().none { it.id == other })
    val visit = session.slip(id)
    check("completed on the server", visit.summary.state == SlipState.COMPLETED)
    check("the signature is verified by the server", visit.signOff?.verified == true)
    check("every record is there", visit.backups.size == 1 && visit.backups[0].photoCount == 1u && visit.fix != null && visit.costLines.size == 2)
    check("arrival recorded", visit.arrivedAtMs != null)
    check("the server agrees nothing was billable", visit.costLines.size == 2 && visit.costLines.none { it.billable })
    check("the quote reached the server accepted", visit.quotes.any { it.id == quote.id && it.accepted })
    check("the custody authorisation reached the server", visit.fix?.custodyScope == custody.scope)

    // The server's own view, through the console.
    val onServer = ctl(server, "slip", id)
    check("the server has the slip completed", onServer.contains("\"state\":\"completed\""))
    check("the server verified the signature", onServer.contains("\"signature_verified\":\"yes\""))

    val state = session.syncState()
    check("nothing pending", state.pendingChanges == 0uL && state.pendingBytes == 0uL && state.lastError == null)
    check("the observer saw a round start", recorder.states.any { it.syncing })
    check("the observer saw twelve pending", recorder.states.any { it.pendingChanges == 12uL })
    check("the observer saw the end", recorder.states.last().pendingChanges == 0uL)

    check("dismissed", session.dismiss(attention[0].changeId))
    expectThrows<OnsiteException.WrongStoreKey>("another key does not open the store") {
        EngineerSession.open(config(ByteArray(32)))
    }
    check("the engineer's slips are still there", session.slips().isNotEmpty())
    session.signOut(false)
    check("signed out: nothing left on the phone", session.slips().isEmpty() && session.engineerId() == null)
}
