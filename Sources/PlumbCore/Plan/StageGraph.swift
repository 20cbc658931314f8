import Foundation

/// The stage graph: who produces which path, who must run before whom, in what order, and what
/// is wrong with it. One graph serves the validator (which reports `problems` and `cycles` with
/// locations) and the planner, the executor and the views (which walk `order` and `upstream`).
package struct StageGraph: Sendable {
    /// A stage as the graph sees it: its name and the paths and names that connect it to others.
    package struct Node: Sendable {
        package var name: String
        package var deps: [String]
        package var after: [String]
        /// Outs, then metrics files.
        package var outputs: [String]
        package init(name: String, deps: [String], after: [String], outputs: [String]) {
            self.name = name; self.deps = deps; self.after = after; self.outputs = outputs
        }
    }

    /// What the graph cannot connect. Positions index the nodes and their `deps` or `after` lists,
    /// so that the validator can point at the line.
    package enum Problem: Sendable, Hashable {
        /// The dep is (inside, or contains) one of the stage's own outputs.
        case readsOwnOutput(stage: Int, dep: Int)
        /// No stage writes the dep: git or the disk must provide it.
        case unproduced(stage: Int, dep: Int)
        case unknownAfter(stage: Int, after: Int)
        case afterItself(stage: Int, after: Int)
    }

    /// Stage names in execution order: topological, ties broken by name for deterministic output.
    /// Stages on a cycle come last, by name.
    package private(set) var order: [String] = []
    /// Per stage, the stages it waits for (data deps and `after`), by name.
    package private(set) var upstream: [String: [String]] = [:]
    /// The elementary cycles, one per strongly connected component, each as node positions starting
    /// at its earliest-declared stage and following the data (producer → consumer).
    package private(set) var cycles: [[Int]] = []
    package private(set) var problems: [Problem] = []
    private let producers: OutputProducers
    private let names: [String]
    /// Every output with its stage, and the index over them, for `outputs(inside:)`.
    private let outputIndex: OutputIndex
    private let outputList: [(stage: String, output: String)]

    package init(_ pipeline: Pipeline) {
        self.init(pipeline.stages.map { Node(name: $0.name, deps: $0.deps, after: $0.after, outputs: $0.allOutputs) })
    }

    package init(_ nodes: [Node]) {
        names = nodes.map(\.name)
        producers = OutputProducers(nodes.map { ($0.name, $0.outputs) })
        // A repeated name (the validator reports it) refers to its first declaration.
        let position = Dictionary(nodes.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
        var outputs = OutputIndex(), owner: [Int] = []
        var list: [(stage: String, output: String)] = []
        for (i, node) in nodes.enumerated() {
            for path in node.outputs { outputs.insert(path, owner.count); owner.append(i); list.append((node.name, path)) }
        }
        outputIndex = outputs
        outputList = list

        // edges[i]: the nodes node i needs first, in the order its deps and `after` name them.
        var edges = [[Int]](repeating: [], count: nodes.count)
        for (i, node) in nodes.enumerated() {
            for (k, dep) in node.deps.enumerated() {
                // Related, not only "inside": a dep folder that holds another stage's output waits for it too.
                let writers = outputs.related(to: dep).map { owner[$0] }
                if writers.isEmpty { problems.append(.unproduced(stage: i, dep: k)) }
                if writers.contains(i) { problems.append(.readsOwnOutput(stage: i, dep: k)) }
                for j in writers where j != i && !edges[i].contains(j) { edges[i].append(j) }
            }
            for (k, after) in node.after.enumerated() {
                guard let j = position[after] else { problems.append(.unknownAfter(stage: i, after: k)); continue }
                if j == i { problems.append(.afterItself(stage: i, after: k)); continue }
                if !edges[i].contains(j) { edges[i].append(j) }
            }
        }
        for (i, name) in names.enumerated() where position[name] == i {
            upstream[name] = Set(edges[i].map { names[$0] }).sorted()
        }
        order = Self.topologicalOrder(upstream)
        cycles = Self.cycles(edges)
    }

    /// What acting on `targets` involves: the targets, with `downstream` every stage that depends
    /// on one, and everything those need (as `dvc repro STAGE` and `terraform -target`).
    package func selection(targets: Set<String>, downstream: Bool) -> Set<String> {
        var chosen = targets
        if downstream {
            var dependants: [String: [String]] = [:]
            for (stage, ups) in upstream { for up in ups { dependants[up, default: []].append(stage) } }
            var queue = Array(targets)
            while let next = queue.popLast() {
                for stage in dependants[next] ?? [] where chosen.insert(stage).inserted { queue.append(stage) }
            }
        }
        var queue = Array(chosen)
        while let next = queue.popLast() {
            for up in upstream[next] ?? [] where chosen.insert(up).inserted { queue.append(up) }
        }
        return chosen
    }

    /// The first cycle as names, its first stage repeated at the end: `prepare → train → prepare`.
    package var cycle: [String]? { cycles.first.map { ($0 + [$0[0]]).map { names[$0] } } }

    /// The stage producing `path` (an output itself, or a file inside an output folder) and that output.
    package func producer(of path: String) -> (stage: String, output: String)? { producers.producer(of: path) }

    /// The outputs lying inside the folder `path` (`build/models` over each `build/models/<m>.json`
    /// of a fan-out), with their stages, in path order; empty when none does.
    package func outputs(inside path: String) -> [(stage: String, output: String)] {
        outputIndex.within(path).map { outputList[$0] }.sorted { $0.output < $1.output }
    }

    /// Kahn's algorithm with the ready stages in a min-heap of names: O((stages + edges) log stages).
    static func topologicalOrder(_ upstream: [String: [String]]) -> [String] {
        var order: [String] = []
        var waitingFor = upstream.mapValues(\.count)
        var downstream: [String: [String]] = [:]
        for (stage, ups) in upstream { for up in ups { downstream[up, default: []].append(stage) } }
        var ready = NameHeap(waitingFor.filter { $0.value == 0 }.keys)
        while let next = ready.pop() {
            order.append(next)
            waitingFor[next] = nil
            for stage in downstream[next] ?? [] {
                guard let n = waitingFor[stage] else { continue }
                waitingFor[stage] = n - 1
                if n == 1 { ready.push(stage) }
            }
        }
        return order + waitingFor.keys.sorted()
    }

    /// Elementary cycles, one per strongly connected component (Tarjan, iterative so deep
    /// graphs cannot overflow the stack). Each cycle starts at its earliest-declared stage.
    static func cycles(_ upstream: [[Int]]) -> [[Int]] {
        let n = upstream.count
        var indexOf = [Int](repeating: -1, count: n), low = [Int](repeating: 0, count: n)
        var onStack = [Bool](repeating: false, count: n), stack: [Int] = [], next = 0
        var components: [[Int]] = []
        for root in 0..<n where indexOf[root] == -1 {
            var work: [(node: Int, edge: Int)] = [(root, 0)]
            indexOf[root] = next; low[root] = next; next += 1; stack.append(root); onStack[root] = true
            while let (v, e) = work.last {
                if e < upstream[v].count {
                    work[work.count - 1].edge += 1
                    let w = upstream[v][e]
                    if indexOf[w] == -1 {
                        indexOf[w] = next; low[w] = next; next += 1; stack.append(w); onStack[w] = true
                        work.append((w, 0))
                    } else if onStack[w] {
                        low[v] = min(low[v], indexOf[w])
                    }
                    continue
                }
                work.removeLast()
                if let parent = work.last { low[parent.node] = min(low[parent.node], low[v]) }
                if low[v] == indexOf[v] {
                    var component: [Int] = []
                    while let w = stack.popLast() { onStack[w] = false; component.append(w); if w == v { break } }
                    if component.count > 1 { components.append(component.sorted()) }
                }
            }
        }
        // Within a component, the shortest way from its first stage back to itself, walking
        // downstream (consumer of each producer), so the printed arrows follow the data.
        var downstream = [[Int]](repeating: [], count: n)
        for (consumer, producers) in upstream.enumerated() { for p in producers { downstream[p].append(consumer) } }
        return components.sorted { $0[0] < $1[0] }.map { component in
            let members = Set(component), start = component[0]
            var previous: [Int: Int] = [:], queue = [start], head = 0
            search: while head < queue.count {
                let v = queue[head]; head += 1
                for w in downstream[v] where members.contains(w) {
                    if w == start { previous[start] = v; break search }
                    if previous[w] == nil { previous[w] = v; queue.append(w) }
                }
            }
            var path = [start], at = previous[start] ?? start
            while at != start, path.count <= component.count { path.insert(at, at: 1); at = previous[at] ?? start }
            return path
        }
    }
}

/// A binary min-heap of stage names: the graph's ready set, smallest name first.
struct NameHeap {
    private var items: [String] = []

    init<S: Sequence>(_ names: S) where S.Element == String {
        for n in names { push(n) }
    }

    mutating func push(_ name: String) {
        items.append(name)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard items[i] < items[parent] else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> String? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < items.count && items[l] < items[m] { m = l }
            if r < items.count && items[r] < items[m] { m = r }
            if m == i { break }
            items.swapAt(i, m)
            i = m
        }
        return top
    }
}
